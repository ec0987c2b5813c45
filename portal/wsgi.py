"""
WSGI config for portal project.

It exposes the WSGI callable as a module-level variable named ``application``.

For more information on this file, see
https://docs.djangoproject.com/en/5.2/howto/deployment/wsgi/
"""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

application = get_wsgi_application()

# What a web process loaded at start (Django, the apps, settings) lives as long as it does: frozen,
# the collector never walks it again. A list page makes tens of thousands of short-lived objects;
# at Python's default thresholds that was a dozen collections a request and, every ten or so, a
# full one over the whole process (about 100 ms on the caseload page at full size). Collecting
# young objects every 10,000 allocations rather than 700, and the oldest generation a tenth as
# often, keeps it to a few milliseconds a request (see docs/benchmarks.md).
WEB_GC_THRESHOLDS = (10_000, 10, 100)
gc.collect()
gc.freeze()
gc.set_threshold(*WEB_GC_THRESHOLDS)
