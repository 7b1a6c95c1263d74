from signwire.cli.main import entry

entry()
