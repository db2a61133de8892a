"""benchmarks/bench_speed.py runs end to end on a tiny setting, and its FLOP counts are consistent."""


import pytest



def test_speed_benchmark_reports_consistent_flops(capsys: pytest.CaptureFixture) -> None:
    import bench_speed

    result = bench_speed.main(["--presets", "shapes", "--modes", "infer1,infer,train", "--batch", "2",
                               "--runs", "1", "--warmup", "0", "--matmul-sizes", "64,128", "--matmul-runs", "2"])
    rows = {r["mode"]: r for r in result["rows"]}
    assert [r["batch"] for r in result["rows"]] == [1, 2, 2]
    # FLOPs per image do not depend on the batch, except through the cross-attention's token
    # count (captions are padded to the longest in the batch); a training step costs G forward
    # twice, the backward through G (about twice its forward) and D on top
    assert rows["infer1"]["flops_per_image"] == pytest.approx(rows["infer"]["flops_per_image"], rel=1e-2)
    assert rows["train"]["flops_per_image"] > 3.5 * rows["infer"]["flops_per_image"]
    assert all(r["images_per_s"] > 0 and r["flops_per_s"] > 0 for r in result["rows"])
    assert result["rows"][0]["params"] == pytest.approx(0.51e6, rel=0.05)  # the shapes generator, cross-attention included
    table = capsys.readouterr().out
    assert "| shapes | 32 |" in table and "training step (G+D)" in table and "% of matmul limit" in table
