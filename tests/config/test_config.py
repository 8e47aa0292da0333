"""Beamline configs: every shipped config loads; mistakes fail at load time with one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from xsuite.config import BeamlineConfig, load_config, with_overrides
from xsuite.config.base import ConfigPath, XsuiteModel
from xsuite.errors import ConfigError, InputNotFoundError

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "beamline_configs").glob("*.yaml"))


def test_the_five_required_configs_are_shipped():
    names = {p.stem for p in SHIPPED}
    for needed in ("ssrl_11-3_xrd", "ssrl_11-3_gixrd", "ssrl_2-3_xanes", "ssrl_2-3_xrf", "lab_cu_ka"):
        assert needed in names, f"beamline_configs/{needed}.yaml missing"


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_config_loads_and_its_files_exist(path):
    cfg = load_config(path)
    assert isinstance(cfg, BeamlineConfig)
    assert cfg.source_path == path.resolve()
    section = {"xrd": cfg.diffraction, "gixrd": cfg.diffraction, "xanes": cfg.xanes, "xrf": cfg.xrf}[cfg.technique]
    assert section is not None, f"{path.name}: technique {cfg.technique} but no section for it"
    for value in section.model_dump().values():  # paths named in the config resolve next to it and exist
        if isinstance(value, Path):
            assert value.is_absolute() and value.exists(), value


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "my_beamline.yaml"
    p.write_text(text)
    return p


def test_typo_names_file_and_key_and_allowed_keys(tmp_path):
    p = _write(tmp_path, "name: x\ntechnique: xrf\nbeamlin: SSRL 2-3\n")
    with pytest.raises(ConfigError) as info:
        load_config(p)
    msg = str(info.value)
    assert "\n" not in msg
    assert "my_beamline.yaml" in msg and "`beamlin`" in msg and "beamline" in msg


def test_missing_key_and_wrong_value(tmp_path):
    with pytest.raises(ConfigError, match=r"my_beamline.yaml.*missing required key `technique`"):
        load_config(_write(tmp_path, "name: x\n"))
    with pytest.raises(ConfigError, match=r"`technique`.*got 'saxs'"):
        load_config(_write(tmp_path, "name: x\ntechnique: saxs\n"))


def test_bad_yaml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(_write(tmp_path, "name: [x\n"))
    with pytest.raises(ConfigError, match="mapping"):
        load_config(_write(tmp_path, "- a\n- b\n"))
    with pytest.raises(InputNotFoundError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")


class _Section(XsuiteModel):
    poni: ConfigPath
    n_points: int = 1000


def test_relative_paths_resolve_against_config_folder(tmp_path):
    sec = _Section.model_validate({"poni": "geo/x.poni"}, context={"base_dir": tmp_path})
    assert sec.poni == tmp_path / "geo" / "x.poni"
    absolute = _Section.model_validate({"poni": "/abs/x.poni"}, context={"base_dir": tmp_path})
    assert absolute.poni == Path("/abs/x.poni")


def test_command_line_overrides_win_and_are_validated(tmp_path):
    sec = _Section.model_validate({"poni": "x.poni", "n_points": 500}, context={"base_dir": tmp_path})
    assert with_overrides(sec, n_points=None).n_points == 500  # flag not given: config value stays
    assert with_overrides(sec, n_points=2000).n_points == 2000
    with pytest.raises(ConfigError, match="n_points"):
        with_overrides(sec, n_points="many")
    with pytest.raises(ConfigError, match="unknown setting"):
        with_overrides(sec, n_pionts=3)


class _Ranged(XsuiteModel):
    low: float = 0.0
    high: float = 1.0

    from pydantic import model_validator as _mv

    @_mv(mode="after")
    def _ordered(self):
        if self.low >= self.high:
            raise ValueError(f"`low` must be below `high`; got {self.low} >= {self.high}")
        return self


class _Outer(XsuiteModel):
    section: _Ranged


def test_model_level_check_names_the_section():
    from pydantic import ValidationError

    from xsuite.config.base import format_validation_error

    with pytest.raises(ValidationError) as info:
        _Outer.model_validate({"section": {"low": 2.0, "high": 1.0}})
    msg = format_validation_error(info.value, "x.yaml")
    assert msg == "`section`: `low` must be below `high`; got 2.0 >= 1.0 (config x.yaml)"
