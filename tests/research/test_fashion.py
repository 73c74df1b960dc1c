"""vitviz-fashion's training side: data reading, augmentation, the 7x7 -> 14x14 step and the exact export."""
import gzip
import struct

import numpy as np
import pytest
import torch
from timm.models.vision_transformer import VisionTransformer

from vitviz.research.fashion import data, export, model as fm


def write_idx(folder, kind, images, labels):
    with gzip.open(folder / f"{kind}-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">IIII", 2051, len(images), 28, 28) + images.tobytes())
    with gzip.open(folder / f"{kind}-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 2049, len(labels)) + labels.astype(np.uint8).tobytes())


def test_idx_files_are_read_with_their_headers(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    write_idx(tmp_path, "t10k", images, np.array([4, 0, 9]))
    split = data.read_split("t10k", tmp_path)
    np.testing.assert_array_equal(split.images, images)
    assert split.labels.tolist() == [4, 0, 9]


def test_augmentation_only_shifts_and_flips():
    image = np.zeros((1, 28, 28), np.uint8)
    image[0, 10:14, 5:9] = 200
    out = data.augment(np.repeat(image, 64, 0), np.random.default_rng(1))
    assert out.shape == (64, 28, 28) and out.dtype == np.uint8
    assert all(int((o == 200).sum()) == 16 for o in out)  # the object stays whole (shifts of at most 2 px)
    assert len({o.tobytes() for o in out}) > 5


def random_served_pair(grid: int):
    torch.manual_seed(0)
    config = fm.FashionConfig(grid=grid, depth=2)
    small = fm.build(config).eval()
    big = VisionTransformer(**export.served_model_args(config)).eval()
    big.load_state_dict(export.served_state(small.state_dict(), config))
    return small, big


@pytest.mark.parametrize("grid", [7, 14])
def test_served_model_on_enlarged_grey_images_equals_the_28px_model(grid):
    small, big = random_served_pair(grid)
    images = np.random.default_rng(2).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    enlarged = np.repeat(np.repeat(images, 8, 1), 8, 2)[:, None].repeat(3, 1) / 255.0  # nearest 8x, RGB
    x224 = ((torch.from_numpy(enlarged).float()) - data.MEAN) / data.STD
    with torch.no_grad():
        expected, served = small(torch.from_numpy(data.normalise(images))), big(x224)
    assert big.patch_embed.grid_size == (grid, grid) and big.patch_embed.patch_size == (224 // grid,) * 2
    torch.testing.assert_close(served, expected, atol=1e-4, rtol=1e-4)


def test_collapse_inverts_spread():
    w = torch.randn(5, 1, 2, 2)
    torch.testing.assert_close(export.collapse_kernel(export.spread_kernel(w, 8), 8), w)


def test_finer_grid_kernel_sees_a_zoomed_patch():
    """A 2x2 patch through the 14x14 kernel = the same patch enlarged to 4x4 through the 7x7 kernel."""
    torch.manual_seed(0)
    coarse = fm.build(fm.FashionConfig(grid=7, depth=1)).state_dict()
    fine = fm.finer_grid_state(coarse, 7, 14)
    patch = torch.randn(1, 1, 2, 2)
    zoomed = patch.repeat_interleave(2, 2).repeat_interleave(2, 3)
    old = torch.nn.functional.conv2d(zoomed, coarse["patch_embed.proj.weight"])
    new = torch.nn.functional.conv2d(patch, fine["patch_embed.proj.weight"])
    torch.testing.assert_close(new, old)
    assert fine["pos_embed"].shape == (1, 1 + 14 * 14, coarse["pos_embed"].shape[-1])


def test_distillation_weighs_the_true_and_the_teachers_labels():
    from vitviz.research.distill import distilled_loss
    torch.manual_seed(0)
    logits, y, taught = torch.randn(8, 10), torch.randint(0, 10, (8,)), torch.randint(0, 10, (8,))
    ce = lambda labels: torch.nn.functional.cross_entropy(logits, labels, label_smoothing=0.1)  # noqa: E731
    torch.testing.assert_close(distilled_loss(logits, y, taught, 0.0, 0.1), ce(y))
    torch.testing.assert_close(distilled_loss(logits, y, taught, 1.0, 0.1), ce(taught))
    torch.testing.assert_close(distilled_loss(logits, y, taught, 0.5, 0.1), (ce(y) + ce(taught)) / 2)


def test_a_distilled_run_learns_from_the_teacher_it_loads(tmp_path):
    """A stage with --teacher loads the saved CNN and its loss follows the teacher's labels, not the data's."""
    from vitviz.research.fashion import loop, teacher
    t = teacher.TeacherCNN(width=4)
    torch.save({"model": t.state_dict(), "width": 4}, tmp_path / "teacher.pt")
    args = loop.parse_args(["--out", str(tmp_path / "run"), "--depth", "1", "--teacher", str(tmp_path / "teacher.pt"),
                            "--distill-weight", "1.0", "--label-smoothing", "0"])
    run = loop.Run(args)
    run.model.eval()  # no drop path: the same loss twice
    x = torch.randn(4, 1, 28, 28)
    taught = t.eval()(x).argmax(-1)
    run.model.train = lambda mode=True: run.model  # keep eval mode inside train_step
    expected = torch.nn.functional.cross_entropy(run.model(x), taught).item()
    assert loop.train_step(run, x, torch.randint(0, 10, (4,))) == pytest.approx(expected, rel=1e-5)



def test_the_model_size_options_build_that_model_and_the_defaults_the_old_one(tmp_path):
    from vitviz.research.fashion import loop

    wide = loop.Run(loop.parse_args(["--out", str(tmp_path / "wide"), "--grid", "14", "--depth", "1", "--embed-dim", "96",
                                     "--heads", "3", "--mlp-ratio", "4", "--drop-path", "0"]))
    assert (wide.config.embed_dim, wide.config.num_heads, wide.config.mlp_ratio, wide.config.drop_path_rate) == (96, 3, 4.0, 0.0)
    assert wide.model.blocks[0].mlp.fc1.out_features == 384 and wide.model.pos_embed.shape == (1, 197, 96)
    plain = loop.Run(loop.parse_args(["--out", str(tmp_path / "plain")]))
    assert plain.config == fm.FashionConfig(grid=7)

def test_without_erasing_the_batches_are_drawn_as_before_erasing_existed():
    images = np.random.default_rng(0).integers(0, 256, (16, 28, 28), dtype=np.uint8)
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    plain = data.augment(images, rng_a)
    np.testing.assert_array_equal(data.augment(images, rng_b, erase=0.0), plain)
    assert rng_a.random() == rng_b.random()


def test_random_erasing_fills_one_rectangle_of_the_stated_size_in_the_chosen_images():
    images = np.zeros((400, 28, 28), np.uint8)
    data.random_erase(images, np.random.default_rng(2), prob=0.5)
    touched = images.reshape(400, -1).any(1)
    assert 0.4 < touched.mean() < 0.6
    for im in images[touched]:
        rows, cols = np.flatnonzero(im.any(1)), np.flatnonzero(im.any(0))
        box = im[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        assert box.size <= 0.25 * 784 * 1.2  # at most a quarter of the image (rounding of the sides)
        assert (box > 0).mean() > 0.9  # a filled rectangle (noise is 0 once in 256)


def test_a_stage_with_random_erasing_says_so_with_its_probability_and_others_say_nothing():
    from vitviz.research.fashion import card
    assert "random erasing" in card._erase_text({"random_erasing": 0.25}) and "0.25" in card._erase_text({"random_erasing": 0.25})
    assert card._erase_text({"random_erasing": 0.0}) == "" == card._erase_text({})


def test_the_notes_of_a_run_taught_from_stage_1_give_both_stages_numbers():
    from vitviz.research.fashion.export import _notes
    taught = {"teacher_val_accuracy": 0.9318}
    stages = [{"distillation": taught, "steps": 12000, "batch": 128, "training_time_s": 13292.0,
               "val_accuracy_last": 0.915},
              {"distillation": taught, "steps": 12000, "batch": 64, "training_time_s": 9000.0,
               "val_accuracy_last": 0.9123}]
    text = _notes(stages, {"accuracy": 0.9101})
    assert "from their first step" in text and "validation 0.932" in text
    assert "12,000 steps of 128, 222 min, validation 0.915, test 0.910" in text
    assert "12,000 steps of 64, 150 min, last validation 0.912" in text
    assert "Stage 3" not in text  # not the story of the earlier, distilled-last lineage


@pytest.mark.parametrize("depth,mlp_ratio", [(9, 2.0), (6, 4.0), (12, 4.0)])
def test_a_grown_model_computes_what_the_trained_one_did(depth, mlp_ratio):
    from vitviz.research.fashion.model import FashionConfig, build, grown_state
    torch.manual_seed(0)
    small = build(FashionConfig(grid=7, drop_path_rate=0.0)).eval()
    for p in small.parameters():  # a trained model's branches are not near zero
        p.data.normal_(0, 0.2)
    big = build(FashionConfig(grid=7, depth=depth, mlp_ratio=mlp_ratio, drop_path_rate=0.0)).eval()
    big.load_state_dict(grown_state(small.state_dict(), depth, big.blocks[0].mlp.fc1.out_features))
    x = torch.randn(5, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(big(x), small(x), rtol=1e-5, atol=1e-5)
    assert any(p.abs().sum() > 0 for n, p in big.named_parameters() if "fc1" in n)  # new units can learn


def test_a_stage_may_start_deeper_and_wider_than_the_run_it_continues(tmp_path):
    """--init-from a 6-block 7x7 run with --depth 9 --mlp-ratio 4 on the 14x14 grid: the grown model is
    what finer_grid_state alone gives the original (same logits)."""
    from vitviz.research.fashion.loop import Run, parse_args
    from vitviz.research.fashion.model import FashionConfig, build, finer_grid_state
    torch.manual_seed(0)
    config = FashionConfig(grid=7)
    prev = build(config)
    (tmp_path / "s1").mkdir()
    torch.save({"model": prev.state_dict(), "config": config.to_dict()}, tmp_path / "s1" / "final.pt")
    run = Run(parse_args(["--out", str(tmp_path / "s2"), "--grid", "14", "--depth", "9", "--mlp-ratio", "4",
                          "--drop-path", "0", "--init-from", str(tmp_path / "s1")]))
    assert len(run.model.blocks) == 9 and run.model.blocks[0].mlp.fc1.out_features == 512
    same = build(FashionConfig(grid=14, drop_path_rate=0.0)).eval()
    same.load_state_dict(finer_grid_state(prev.state_dict(), 7, 14))
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(run.model.eval()(x), same(x), rtol=1e-5, atol=1e-5)
