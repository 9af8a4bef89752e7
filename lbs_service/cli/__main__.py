from lbs_service.cli import app

app(prog_name="lbs")
