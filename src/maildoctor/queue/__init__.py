"""Mail queue readers (Exim spool, `exim -bp` text, Postfix `postqueue -j`) and the queue's shape."""
