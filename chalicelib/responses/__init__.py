"""Response models: what every success body of the API looks like, one module per area.

A view names its model with `web.route(..., response=Model)`; the route serializes the view's result
through it (`web.serialize_response`) and the OpenAPI document takes its JSON Schema from it, so the
document cannot drift from what is sent. Shared pieces are in `base`.
"""
