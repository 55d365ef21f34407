<?php /* obfuscated dropper (demo placeholder) */ eval(base64_decode('ZWNobyAnJzs='));
