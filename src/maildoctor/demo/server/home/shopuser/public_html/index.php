<?php require 'wp-blog-header.php';
