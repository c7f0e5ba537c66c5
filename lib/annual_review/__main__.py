from annual_review.apps.cli import main

raise SystemExit(main())
