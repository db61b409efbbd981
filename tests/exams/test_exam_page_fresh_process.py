"""The exam page in a web process that has served nothing yet: it asks which configured providers could
explain the exam's suggestions by occlusion, and must answer that without importing the signal
libraries the providers compute with (neurokit2 pulled in scikit-learn, scipy.stats and pandas, and the
codec's module scipy.signal: 2-3 s and up to 160 MB on the first exam page of every web process)."""

from tests.platform.test_embedded_default import on_the_demo

EXAM_PAGE_SCRIPT = """
import json, os, sys
# The providers a deployment with a broker runs by default (settings): the codec's module is imported too.
os.environ["SUGGESTION_PROVIDERS"] = ",".join(
    "annotations.lib.providers." + name
    for name in (
        "measurements.MeasurementProvider", "quality.QualityProvider", "openecg_codec.OpenEcgProvider"
    )
)
import django
django.setup()
from django.contrib.auth import get_user_model
from django.test import Client
from annotations.models import Suggestion

suggestion = Suggestion.objects.filter(status="ok").order_by("pk").first()
client = Client(HTTP_HOST="localhost")
client.force_login(get_user_model().objects.get(username="diego"))
before = set(sys.modules)
response = client.get(f"/exams/{suggestion.exam_id}/")
heavy = sorted(name for name in set(sys.modules) - before if name.split(".")[0] in HEAVY)
print(json.dumps({
    "status": response.status_code,
    "provider": suggestion.provider,
    "suggestion_listed": f"<strong>{suggestion.provider} {suggestion.provider_version}</strong>".encode()
    in response.content,
    "heavy": sorted({name.split(".")[0] for name in heavy}),
}))
""".replace(
    "HEAVY", repr(("neurokit2", "sklearn", "pandas", "matplotlib", "scipy", "onnxruntime", "openecg"))
)


def test_the_first_exam_page_of_a_web_process_loads_no_signal_library(tmp_path):
    seen = on_the_demo(tmp_path, EXAM_PAGE_SCRIPT)
    assert seen["status"] == 200
    assert seen["provider"] == "measurements"  # the demo's suggestions come from the shipped provider
    assert seen["suggestion_listed"]
    assert seen["heavy"] == []


def test_the_measurement_provider_still_names_the_neurokit2_it_computes_with():
    """Its version is read from the package's metadata now, and must stay the string its suggestions were
    stored under (a new string would make every exam's suggestion look stale and be computed again)."""
    import neurokit2

    from annotations.lib.providers.measurements import MeasurementProvider

    assert MeasurementProvider.version == f"2.0+neurokit2-{neurokit2.__version__}"
