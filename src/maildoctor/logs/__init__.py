"""Mail-log engine: formats (one module each), readers, trace and scans."""
