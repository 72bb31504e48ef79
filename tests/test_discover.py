import os

from hcrbatch.discover import discover


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_walks_recursively_and_filters_by_suffix(tmp_path):
    touch(tmp_path / "a.pdf")
    touch(tmp_path / "b" / "c.PNG")
    touch(tmp_path / "b" / "notes.txt")
    touch(tmp_path / "b" / "d" / "e.tiff")
    touch(tmp_path / ".hidden" / "f.png")
    found = [str(f.relative) for f in discover(tmp_path)]
    assert found == ["a.pdf", "b/c.PNG", "b/d/e.tiff"]


def test_no_recursive_and_glob(tmp_path):
    touch(tmp_path / "a.pdf")
    touch(tmp_path / "scan-1.png")
    touch(tmp_path / "sub" / "scan-2.png")
    assert [str(f.relative) for f in discover(tmp_path, recursive=False)] == ["a.pdf", "scan-1.png"]
    assert [str(f.relative) for f in discover(tmp_path, pattern="scan-*")] == ["scan-1.png", "sub/scan-2.png"]


def test_never_follows_links_out_of_the_folder_or_round_a_loop(tmp_path):
    inside, outside = tmp_path / "in", tmp_path / "outside"
    touch(inside / "ok.png")
    touch(outside / "secret.png")
    os.symlink(outside, inside / "link-out")
    os.symlink(outside / "secret.png", inside / "file-link.png")
    os.symlink(inside, inside / "loop")
    left_out = []
    found = [str(f.relative) for f in discover(inside, left_out=left_out)]
    assert found == ["ok.png"]
    assert sorted(left_out) == [
        ("file-link.png", "a link to a file outside the input folder: not followed"),
        ("link-out", "a link to a folder outside the input folder: not followed"),
        ("loop", "a link back to a folder already read (a loop): not followed"),
    ]


def test_output_folder_inside_input_is_skipped(tmp_path):
    touch(tmp_path / "a.png")
    touch(tmp_path / "out" / "a.png")
    assert [str(f.relative) for f in discover(tmp_path, exclude=tmp_path / "out")] == ["a.png"]
