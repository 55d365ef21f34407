"""The `maildoctor` command: one module per subcommand, each exposing `command` (a click.Command)."""
