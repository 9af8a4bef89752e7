"""`lbs bench`: our engines against PostGIS and Redis in the same run, on the same data.

Not part of the service: installed with the `bench` extra (`pip install .[bench]`), and plugged into
the `lbs` command through the `lbs.commands` entry point, so the service never imports it.
"""
