"""The dashboard that ``harness serve`` shows beside the JSON API.

A page lives here whole: ``pages/<name>.py`` holds its route and its ``render_<name>`` (a pure
function of store data, tested without a server), ``templates/<name>.html`` its markup on the
frame of ``templates/base.html``. ``render.py`` is what pages share (the frame, the smoke
switch), ``rows.py`` turns settings into rows, ``figures.py`` draws the plotly figures,
``cache.py`` keeps rendered pages per data version and ``assets.py`` serves the scripts.
"""
