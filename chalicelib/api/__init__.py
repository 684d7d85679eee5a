"""HTTP blueprints, one per area. Each registers its routes through chalicelib.web.route."""
