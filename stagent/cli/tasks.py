"""placeholder"""
import click


@click.group()
def tasks() -> None:
    """(not yet implemented)"""
