"""Example labd plugin: a driver, its simulator and a procedure."""
