import re
from pathlib import Path

from setuptools import find_packages, setup

VERSION = re.search(r'__version__ = "(.+)"', Path("hf_last/_version.py").read_text(encoding="utf-8")).group(1)

setup(
    name="hf_last",
    version=VERSION,
    description="S4D and S5 state space models for Hugging Face transformers, compressed with LAST "
    "(Layer-Adaptive STate pruning).",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["hf_last", "hf_last.*"]),
    package_data={"hf_last.hub": ["templates/*.md"], "hf_last.metrics": ["accuracy/*.py"],
                  "hf_last.default_models": ["*/*.json", "*/*.safetensors", "*/*.md"]},
    entry_points={"console_scripts": ["hf-last = hf_last.cli:main"]},
    python_requires=">=3.10",
    install_requires=[
        "torch>=2.4",
        "transformers>=5.15,<6",
        "huggingface_hub>=1.0",
        "safetensors>=0.4",
        "numpy>=1.24",
        "jinja2>=3.0",  # huggingface_hub.ModelCard.from_template (hf_last.hub model cards)
    ],
    extras_require={
        "data": ["datasets>=3.0", "scikit-learn>=1.3", "scipy>=1.10"],
        "train": ["accelerate>=1.0", "datasets>=3.0", "evaluate>=0.4", "scikit-learn>=1.3", "scipy>=1.10", "tqdm"],
        "plots": ["matplotlib>=3.7"],
        "test": ["pytest>=8", "hypothesis>=6", "accelerate>=1.0", "datasets>=3.0", "evaluate>=0.4",
                 "scikit-learn>=1.3", "scipy>=1.10", "matplotlib>=3.7", "tqdm"],
    },
    license="Apache-2.0",
)
