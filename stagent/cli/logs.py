"""placeholder"""
import click


@click.group()
def logs() -> None:
    """(not yet implemented)"""
