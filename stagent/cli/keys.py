"""placeholder"""
import click


@click.group()
def keys() -> None:
    """(not yet implemented)"""
