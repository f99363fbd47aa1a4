"""The learned reader: features, the served model (models/reader) and `newsbot train`, which fits it."""

from pathlib import Path

MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "reader"  # shipped with the code, loaded offline
