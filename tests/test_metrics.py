from hcrbatch.elements import BBox
from hcrbatch.metrics import accuracy, box_f1, cer, confusion_pairs, edit_distance, merged_accuracy, wer


def test_edit_distance_on_characters_and_tokens():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3 and edit_distance("abc", "") == 3
    assert edit_distance(["the", "cat"], ["the", "bat", "sat"]) == 2


def test_error_rates_ignore_layout_whitespace():
    assert cer("the cat\nsat", "the  cat sat\n") == 0.0
    assert cer("abcd", "abed") == 0.25
    assert wer("the cat sat", "the bat sat") == 1 / 3
    assert cer("", "") == 0.0


def test_case_merged_accuracy_forgives_only_emnist_balanced_merges():
    assert accuracy(["o", "a"], ["O", "A"]) == 0.0
    assert merged_accuracy(["o", "a"], ["O", "A"]) == 0.5  # o/O merged in EMNIST Balanced, a/A not
    assert confusion_pairs(["a", "a", "b"], ["o", "o", "b"]) == [("a", "o", 2)]


def test_box_matching_is_one_to_one_at_the_iou_threshold():
    truth = [BBox(0, 0, 10, 10), BBox(20, 0, 30, 10)]
    found = [BBox(0, 0, 10, 10), BBox(1, 0, 11, 10), BBox(20, 0, 24, 10)]  # a duplicate, a poor overlap
    precision, recall, f1 = box_f1(truth, found)
    assert (precision, recall) == (1 / 3, 1 / 2) and abs(f1 - 0.4) < 1e-9
    assert box_f1([], []) == (1.0, 1.0, 1.0)
