"""The calibration figure of a set of answers: per classifier head a reliability diagram (each confidence
bin's accuracy against its mean confidence), and the accuracy of the most confident answers against the
share kept (accuracy against coverage), with the served warning threshold marked. Drawn from the
`calibration` block that benchmarks/outside.py records (pipeline/metrics.py: calibration)."""
import vocabulary

HEADS = {vocabulary.GENDER_KEY: "gender", vocabulary.AGE_BUCKET_KEY: "age bucket"}


def plot(calibration: dict, path: str, title: str) -> None:
  """`calibration`: head -> {calibration: metrics.calibration(), served: {threshold, unwarned_share,
  unwarned_accuracy, ...}}."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  heads = [head for head in HEADS if head in calibration]
  fig, axes = plt.subplots(1, len(heads) + 1, figsize=(5 * (len(heads) + 1), 4.4))
  coverage_ax = axes[-1]
  for ax, head in zip(axes, heads):
    figures = calibration[head]["calibration"]
    bins = [b for b in figures["reliability"] if b["count"]]
    ax.plot([0, 1], [0, 1], ":", color="grey", label="perfectly calibrated")
    ax.bar([b["low"] for b in bins], [b["accuracy"] for b in bins], width=[b["high"] - b["low"] for b in bins],
           align="edge", alpha=0.6, edgecolor="black", label="accuracy in the bin")
    ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o-", color="tab:red",
            label="accuracy at the bin's mean confidence")
    for b in bins:
      ax.text(b["low"] + 0.05, 0.02, str(b["count"]), ha="center", fontsize=7, rotation=90)
    ax.set_xlim(0.2 if head == vocabulary.AGE_BUCKET_KEY else 0.5, 1.0)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(f"{HEADS[head]} confidence (top-1 probability)")
    ax.set_ylabel("accuracy")
    ax.set_title(f"{HEADS[head]}: ECE {figures['ece']:.3f} ({figures['n']} faces; counts at the foot)", fontsize=10)
    ax.legend(fontsize=7, loc="upper left")
    curve = sorted(figures["accuracy_at_coverage"].values(), key=lambda point: point["coverage"])
    line, = coverage_ax.plot([p["coverage"] for p in curve], [p["accuracy"] for p in curve], ".-",
                             label=HEADS[head])
    served = calibration[head]["served"]
    coverage_ax.plot([served["unwarned_share"]], [served["unwarned_accuracy"]], "D", color=line.get_color(),
                     label=f"{HEADS[head]} unwarned (threshold {served['threshold']:g})")
  coverage_ax.set_xlim(0, 1.02)
  coverage_ax.set_xlabel("share of the faces kept (the most confident)")
  coverage_ax.set_ylabel("accuracy of the faces kept")
  coverage_ax.set_title("accuracy against coverage", fontsize=10)
  coverage_ax.grid(alpha=0.3)
  coverage_ax.legend(fontsize=7, loc="lower left")
  fig.suptitle(title)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
