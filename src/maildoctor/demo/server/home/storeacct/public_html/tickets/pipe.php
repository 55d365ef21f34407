#!/usr/local/bin/php -q
<?php
// read the ticket from STDIN
$mail = file_get_contents('php://stdin');
