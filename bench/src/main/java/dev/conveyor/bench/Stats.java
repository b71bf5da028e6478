package dev.conveyor.bench;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Exact order statistics of a few hundred samples (nearest-rank percentiles: p99 of 50 samples is
 * the maximum). Micrometer's histograms are approximations meant for long-running meters; here
 * every sample is kept.
 */
final class Stats {
  private final double[] sorted;

  Stats(List<Double> samples) {
    this.sorted = samples.stream().mapToDouble(Double::doubleValue).sorted().toArray();
  }

  int count() {
    return sorted.length;
  }

  /** Nearest-rank percentile, p in (0, 100]; NaN without samples. */
  double percentile(double p) {
    if (sorted.length == 0) {
      return Double.NaN;
    }
    int rank = (int) Math.ceil(p / 100.0 * sorted.length);
    return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
  }

  double min() {
    return sorted.length == 0 ? Double.NaN : sorted[0];
  }

  double max() {
    return sorted.length == 0 ? Double.NaN : sorted[sorted.length - 1];
  }

  double median() {
    if (sorted.length == 0) {
      return Double.NaN;
    }
    int mid = sorted.length / 2;
    return sorted.length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  }

  double mean() {
    return Arrays.stream(sorted).average().orElse(Double.NaN);
  }

  /** n, min, p50, p90, p99, max, mean — rounded to µs when the unit is ms. */
  Map<String, Object> summary() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("n", count());
    m.put("min", round3(min()));
    m.put("p50", round3(percentile(50)));
    m.put("p90", round3(percentile(90)));
    m.put("p99", round3(percentile(99)));
    m.put("max", round3(max()));
    m.put("mean", round3(mean()));
    return m;
  }

  /** "p50 1.234 p90 … p99 … max … (n=50)" */
  String line(String unit) {
    if (count() == 0) {
      return "no samples";
    }
    return String.format(
        "p50 %.3f %s  p90 %.3f %s  p99 %.3f %s  max %.3f %s  min %.3f %s  (n=%d)",
        percentile(50),
        unit,
        percentile(90),
        unit,
        percentile(99),
        unit,
        max(),
        unit,
        min(),
        unit,
        count());
  }

  static Double round3(double v) {
    return Double.isNaN(v) ? null : Math.round(v * 1000.0) / 1000.0;
  }

  static Double round1(double v) {
    return Double.isNaN(v) ? null : Math.round(v * 10.0) / 10.0;
  }

  static double millis(long nanos) {
    return nanos / 1e6;
  }
}
