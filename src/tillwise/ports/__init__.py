"""Small typing.Protocol interfaces the inner layers depend on."""
