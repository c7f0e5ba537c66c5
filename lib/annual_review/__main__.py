from annual_review.cli import main

raise SystemExit(main())
