from annual_review.apps.cli import run

run()
