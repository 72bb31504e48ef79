import os

import pytest

from hcrbatch.atomic import atomic_output, atomic_write_text


def test_outputs_get_the_usual_permissions_not_mkstemps_private_ones(tmp_path):
    path = tmp_path / "out.txt"
    atomic_write_text(path, "x")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_output(path, "w", encoding="utf-8") as fh:
        fh.write("half")
        raise RuntimeError
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["out.txt"]
