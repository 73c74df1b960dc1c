"""The CNN teacher of the shapes runs and the ViT loop's distillation from it (DeiT's hard labels)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vitviz.research.shapes.generator import CLASS_NAMES
from vitviz.research.shapes.loop import teacher_labels
from vitviz.research.shapes.teacher import ShapesTeacher, load, main


@pytest.mark.parametrize("size", [56, 112, 224])
def test_the_teacher_gives_one_logit_per_class_at_any_size(size):
    assert ShapesTeacher(8).eval()(torch.zeros(2, 3, size, size)).shape == (2, len(CLASS_NAMES))


def test_the_teacher_sees_the_students_picture_at_its_own_size():
    """A 224-px student batch reaches a 112-px teacher averaged over 2x2 pixels, which is what the
    teacher was trained on when the run's images are rendered at 224."""
    torch.manual_seed(0)
    teacher = ShapesTeacher(8).eval()
    teacher.image_size = 112
    x = torch.randn(4, 3, 224, 224)
    assert torch.equal(teacher_labels(teacher, x), teacher(F.avg_pool2d(x, 2)).argmax(-1))
    assert torch.equal(teacher_labels(teacher, F.avg_pool2d(x, 2)), teacher(F.avg_pool2d(x, 2)).argmax(-1))


def test_a_trained_teacher_is_saved_with_its_size_and_resumes(tmp_path):
    argv = ["--out", str(tmp_path), "--steps", "4", "--batch-size", "4", "--eval-every", "2", "--eval-images", "6",
            "--workers", "0", "--width", "4", "--img-size", "48"]
    main(argv)
    teacher = load(tmp_path / "teacher.pt")
    assert teacher.image_size == 48 and not teacher.training
    rows = (tmp_path / "val.csv").read_text().splitlines()
    assert rows[0].startswith("step,val_accuracy_dr") and [r.split(",")[0] for r in rows[1:]] == ["2", "4"]
    main([*argv[:3], "6", *argv[4:], "--resume"])  # two more steps from the saved step 4
    assert torch.load(tmp_path / "teacher.pt", weights_only=False)["step"] == 6


class _Always(torch.nn.Module):
    """A teacher that names class `k` for every picture."""

    def __init__(self, k: int, image_size: int):
        super().__init__()
        self.k, self.image_size = k, image_size

    def forward(self, x):
        return F.one_hot(torch.full((len(x),), self.k), len(CLASS_NAMES)).float()


def test_with_a_teacher_the_class_loss_is_half_on_its_labels(tmp_path):
    from vitviz.research.shapes import loop
    from vitviz.research.shapes.data import make_batch, to_tensor
    from vitviz.research.shapes.options import parse_args, shapes_config_for

    args = parse_args(["--tiny", "--out", str(tmp_path), "--steps", "2", "--token-label-weight", "0", "--no-amp"])
    run = loop.new_run(args)
    batch = make_batch(0, 0, 4, shapes_config_for(args), args.patch_size)
    with torch.no_grad():
        logits = run.model(to_tensor(batch[1]))
    y = torch.from_numpy(batch[2])
    run.teacher = _Always(3, args.img_size)
    (_, cls_loss, _), _, _ = loop.train_step(run, 0, batch)
    expected = 0.5 * F.cross_entropy(logits, y) + 0.5 * F.cross_entropy(logits, torch.full_like(y, 3))
    assert cls_loss == pytest.approx(expected.item(), rel=1e-5)
