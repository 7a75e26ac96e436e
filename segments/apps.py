from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    name = "segments"
    verbose_name = "Segments"

    def ready(self):
        # Registers the customer.segment rule condition and the SEGMENT_RECOMPUTE async handler.
        from segments import conditions, services  # noqa: F401
