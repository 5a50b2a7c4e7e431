"""environment.yml (Studio Lab, Binder) describes the environment that scripts/setup.sh builds."""

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

TOP = Path(__file__).resolve().parents[1]


def pyproject():
    return tomllib.loads((TOP / "pyproject.toml").read_text())


def setup_torch_pins() -> dict[str, str]:
    text = (TOP / "scripts" / "setup.sh").read_text()
    pins = re.search(r'TORCH_PINS:-"([^"]+)"', text).group(1)
    return {Requirement(p).name: str(Requirement(p).specifier) for p in pins.split()}


def environment_pip() -> dict[str, str]:
    env = yaml.safe_load((TOP / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    return {Requirement(r).name: str(Requirement(r).specifier) for r in pip}


def test_environment_yml_lists_pyprojects_packages_with_setups_torch_pins():
    project = pyproject()["project"]
    wanted = [*project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        wanted += extra
    expected = {Requirement(r).name: str(Requirement(r).specifier) for r in wanted}
    pins = setup_torch_pins()
    expected.update(pins)
    assert environment_pip() == expected
    assert set(pins) == {"torch", "torchvision"}


def test_the_torch_pins_satisfy_pyprojects_ranges():
    ranges = {Requirement(r).name: Requirement(r) for r in pyproject()["project"]["dependencies"]}
    for name, pin in setup_torch_pins().items():
        version = pin.removeprefix("==")
        assert ranges[name].specifier.contains(version), (name, version)


def test_python_version_and_d2l_install():
    env = yaml.safe_load((TOP / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    assert "d2l" not in environment_pip()
    for script in ("scripts/setup.sh", "postBuild"):
        assert "--no-deps d2l==1.0.3" in (TOP / script).read_text(), script


def test_every_name_the_package_exports_is_there():
    import d2l_hpo

    missing = [name for name in d2l_hpo.__all__ if not hasattr(d2l_hpo, name)]
    assert not missing


def test_the_recorded_learning_curves_ship_with_the_package():
    """Colab installs d2l_hpo from git: the table must be package data, not just a file."""
    from d2l_hpo.curves import LENET_CURVES

    patterns = pyproject()["tool"]["setuptools"]["package-data"]["d2l_hpo"]
    relative = LENET_CURVES.relative_to(TOP / "d2l_hpo").as_posix()
    assert any(Path(relative).match(pattern) for pattern in patterns)
    assert LENET_CURVES.is_file()
