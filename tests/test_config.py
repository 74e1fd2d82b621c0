"""The one typed configuration: defaults in one place, typos and bad values refused with one line."""
import dataclasses

import pytest

from svc.config import (BaseConfig, RoiConfig, SvcConfig, dump_yaml, load_config, parse_override, read_yaml,
                        to_mapping)
from svc.config.loader import PROJECT_ROOT
from svc.errors import InputError

from conftest import run_cli


def test_default_yaml_is_the_schema():
    """configs/default.yaml is generated from the schema (svc-config) and must not drift from it."""
    shipped = (PROJECT_ROOT / "configs" / "default.yaml").read_text()
    assert shipped == dump_yaml(), "configs/default.yaml is stale: regenerate with `svc-config > configs/default.yaml`"
    assert load_config(PROJECT_ROOT / "configs" / "default.yaml") == SvcConfig()
    assert to_mapping(SvcConfig()) == read_yaml(PROJECT_ROOT / "configs" / "default.yaml")


def test_one_default_per_value():
    assert BaseConfig().qp == SvcConfig().base.qp == 37


@pytest.mark.parametrize("override,key,near", [
    ("base.qpp=20", "base.qpp", "base.qp"),
    ("roi.margn=0.9", "roi.margn", "roi.margin"),
    ("analytics.tracker.max_agee=99", "analytics.tracker.max_agee", "analytics.tracker.max_age"),
    ("enhancment.quality=0.3", "enhancment.quality", "enhancement.quality"),
])
def test_unknown_keys_name_the_nearest(override, key, near):
    with pytest.raises(InputError, match=rf"unknown config key {key} .*did you mean {near}\?"):
        load_config(overrides=[override])


@pytest.mark.parametrize("override,msg", [
    ("base.qp=abc", r"base.qp must be a number in \[0, 51\], got 'abc'"),
    ("base.qp=60", r"base.qp must be a number in \[0, 51\], got 60"),
    ("base.gop=2.5", r"base.gop must be an integer"),
    ("base.preset=turbo", r"base.preset must be one of ultrafast"),
    ("enhancement.enabled=maybe", r"enhancement.enabled must be true or false"),
    ("roi.background_scale=0", r"roi.background_scale must be a number in \(0.0, 1.0\]"),
    ("base=3", r"base is a section"),
    ("base.qp", r"--set takes section.key=value"),
])
def test_bad_values_are_refused(override, msg):
    with pytest.raises(InputError, match=msg):
        load_config(overrides=[override])


def test_overrides_files_and_mapping_entries(tmp_path):
    f = tmp_path / "my.yaml"
    f.write_text("base:\n  qp: 30\n  x265_params: {bframes: 2}\nroi:\n  mode: off\nanalytics:\n  classes: [person, car]\n")
    cfg = load_config(f, ["base.x265_params.aq-mode=2", "analytics.tracker.min_hits=3"])
    assert cfg.base.qp == 30 and cfg.base.x265_params == {"bframes": 2, "aq-mode": 2}
    assert cfg.roi.mode == "off" and cfg.analytics.classes == ("person", "car")
    assert cfg.analytics.tracker.min_hits == 3
    f.write_text("base:\n  qpp: 30\n")
    with pytest.raises(InputError, match=rf"unknown config key base.qpp \({f}\); did you mean base.qp"):
        load_config(f)
    assert parse_override("base.qp=32") == ("base.qp", 32)


def test_config_objects_are_frozen_and_validated():
    cfg = SvcConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.base.qp = 30
    with pytest.raises(InputError, match="roi.method"):
        RoiConfig(method="sharpen")
    assert BaseConfig(qp=32.0).qp == 32 and isinstance(BaseConfig(qp=32.0).qp, int)


def test_roi_stage_does_not_change_the_config():
    """make_roi used to switch the base layer to CRF in place: the rate control depended on call order."""
    from svc.analytics.roi_analyzer import make_roi
    from svc.base.roi import with_roi_rate_control
    from svc.io.frames import VideoFormat

    cfg = load_config(overrides=["roi.method=qoffset", "roi.mode=auto", "analytics.detector=opencv"])
    before = cfg
    make_roi(cfg, VideoFormat(176, 144))
    assert cfg == before and cfg.base.rate_control == "qp"
    assert with_roi_rate_control(cfg).base.rate_control == "crf"


@pytest.mark.parametrize("cmd", [["svc-encode", "x_176x144.yuv", "--set", "base.qpp=20"],
                                 ["svc-analyze", "x.svc", "-o", "t.txt", "--set", "roi.margn=0.9"],
                                 ["svc-encode", "x_176x144.yuv", "--set", "base.qp=abc"]])
def test_cli_refuses_typos_in_one_line(cmd, tmp_path):
    p = run_cli(*cmd, check=False, cwd=tmp_path)
    err = p.stderr.decode()
    assert p.returncode == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "config key" in err


def test_svc_config_prints_the_effective_config():
    p = run_cli("svc-config", "--set", "base.qp=30")
    assert "qp: 30 " in p.stdout.decode()
