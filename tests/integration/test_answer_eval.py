"""`python -m app eval`: the judge, the table, and the gate's exit code on a small set."""

from __future__ import annotations

from pathlib import Path

import yaml

from app.application.evaluation import EvalCase, accuracy, judge
from app.entrypoints.evaluate import evaluate
from app.settings import load_settings

CASES = [
    {"id": "plain-001", "kind": "plain", "question": "페트병 어떻게 버려요?",
     "expect": [["라벨"], ["찌그러", "압착"]]},
    {"id": "yes_no-001", "kind": "yes_no", "question": "우유팩을 종이류로 버려도 돼?",
     "expect": [["종이팩"]], "yes_no": False},
    {"id": "follow_up-001", "kind": "follow_up", "question": "뚜껑은요?",
     "expect": [["캔"]], "history": ["유리병은 어떻게 버려요?"]},
    {"id": "plain-002", "kind": "plain", "question": "페트병 어떻게 버려요?",
     "expect": [["이 답에는 없는 말"]]},
]  # fmt: skip


def case(**fields: object) -> EvalCase:
    return EvalCase.model_validate({"id": "x-001", "kind": "plain", "question": "q", **fields})


def test_the_judge_wants_one_word_of_every_group_and_the_right_opening() -> None:
    assert judge(case(expect=[["a", "b"], ["c"]]), "B and C").hit
    assert not judge(case(expect=[["a"], ["c"]]), "a only").hit
    assert judge(case(expect=[["small appliance"]]), "the small-appliance bin").hit
    no = case(expect=[["x"]], yes_no=False)
    assert judge(no, "[오프라인 답변]\n아니요, x입니다.").hit
    assert not judge(no, "[오프라인 답변]\n네, x입니다.").hit


def test_halves_and_kinds_are_counted_apart() -> None:
    verdicts = [
        judge(case(id="a-001", expect=[["q"]]), "q"),
        judge(case(id="a-002", expect=[["z"]]), "q"),
    ]
    table = accuracy(verdicts)
    assert table["overall"] == (1, 2)
    assert table["tuning"] == (1, 1) and table["held-out"] == (0, 1)
    assert table["kind:plain"] == (1, 2)


async def test_the_gate_answers_every_case_in_one_process_and_fails_under_its_floor(
    tmp_path: Path,
) -> None:
    path = tmp_path / "set.yaml"
    path.write_text(yaml.safe_dump(CASES, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "report.txt"
    settings = load_settings(checkpoint={"backend": "memory"})
    with out.open("w", encoding="utf-8") as report:
        failing = await evaluate(settings, path, min_overall=0.95, out=report)
    text = out.read_text(encoding="utf-8")
    with out.open("w", encoding="utf-8") as report:
        passing = await evaluate(settings, path, min_overall=0.7, min_kind=0.5, out=report)
    assert failing == 1 and passing == 0
    assert "overall       75.0%  (3/4)" in text
    assert "miss plain-002" in text and "miss follow_up-001" not in text
