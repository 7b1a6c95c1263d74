from signwire.cli.main import main

raise SystemExit(main())
