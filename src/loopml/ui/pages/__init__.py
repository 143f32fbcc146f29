"""The page handlers, one module per part of the loop. Each handler is
``(request, store) -> Page``: it calls the service functions and returns the page's data
(its JSON twin) and what only the HTML needs (charts, graphs, form state)."""
