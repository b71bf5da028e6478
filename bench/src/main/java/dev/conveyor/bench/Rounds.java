package dev.conveyor.bench;

import static dev.conveyor.bench.Harness.progress;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.function.ToDoubleFunction;
import java.util.stream.IntStream;

/**
 * Contenders measured in rounds on the same broker, one after the other, the order rotated by one
 * every round (the broker's pace drifts within minutes, and whoever goes first or last in a round
 * should not always be the same). A first round is a warm-up and is discarded. Compared per pair:
 * the median of the ratios of each round's two figures, next to the ratio of the medians, and the
 * median over the quiet pairs alone. The target is judged on every pair; the quiet pairs say how
 * much of a miss the host's steal explains.
 */
final class Rounds {

  /**
   * A pair is quiet when the hypervisor took less than this share of the CPUs during each of its
   * two figures: on this host a drain under 10-30 % steal ran at half the rate of its neighbour.
   */
  private static final double QUIET_STEAL_PERCENT = 5.0;

  /**
   * One figure (a rate, higher is better) and what the machine was doing meanwhile; {@code cpu}:
   * the CPU spent per task by this JVM and by the broker, or null where not measured.
   */
  record Measured(double value, Conditions conditions, CpuUse.PerTask cpu) {
    Measured(double value, Conditions conditions) {
      this(value, conditions, null);
    }
  }

  /** A contender: a label, and a measurement to run once per round. */
  record Contender(String label, Measure measure) {}

  @FunctionalInterface
  interface Measure {
    Measured run() throws Exception;
  }

  /** A comparison to print: num / den, with a target for the pair median (NaN: none). */
  record Ratio(String num, String den, double target) {
    Ratio(String num, String den) {
      this(num, den, Double.NaN);
    }
  }

  private final List<String> labels;
  private final Map<String, List<Measured>> results = new LinkedHashMap<>();
  private final List<List<String>> orders = new ArrayList<>();

  private Rounds(List<String> labels) {
    this.labels = labels;
    labels.forEach(l -> results.put(l, new ArrayList<>()));
  }

  /** A warm-up round, then {@code runs} measured rounds, each in a rotated order. */
  static Rounds run(List<Contender> contenders, int runs) throws Exception {
    return run(contenders, 1, runs);
  }

  /** {@code warmups} warm-up rounds, then {@code runs} measured rounds, each in a rotated order. */
  static Rounds run(List<Contender> contenders, int warmups, int runs) throws Exception {
    Rounds r = new Rounds(contenders.stream().map(Contender::label).toList());
    int k = contenders.size();
    for (int round = 0; round < warmups + runs; round++) {
      int offset = round;
      int run = round - warmups + 1;
      List<Contender> order =
          IntStream.range(0, k).mapToObj(i -> contenders.get((i + offset) % k)).toList();
      List<String> names = order.stream().map(Contender::label).toList();
      progress("%s, order: %s", run <= 0 ? "warm-up (discarded)" : "run " + run, names);
      for (Contender c : order) {
        Measured m = c.measure().run();
        if (run > 0) {
          r.results.get(c.label()).add(m);
        }
      }
      if (run > 0) {
        r.orders.add(names);
      }
    }
    return r;
  }

  Stats stats(String label) {
    return new Stats(results.get(label).stream().map(Measured::value).toList());
  }

  /** num/den of each round. */
  Stats pairs(String num, String den) {
    return pairs(num, den, m -> true);
  }

  /** num/den of each round whose two figures were both measured under little steal. */
  Stats quietPairs(String num, String den) {
    return pairs(num, den, m -> m.conditions().stealPercent() < QUIET_STEAL_PERCENT);
  }

  private Stats pairs(String num, String den, Predicate<Measured> counted) {
    List<Measured> a = results.get(num);
    List<Measured> b = results.get(den);
    return new Stats(
        IntStream.range(0, a.size())
            .filter(i -> counted.test(a.get(i)) && counted.test(b.get(i)))
            .mapToObj(i -> a.get(i).value() / b.get(i).value())
            .toList());
  }

  /** Every round's figures with their conditions, the medians, and the ratios asked for. */
  void report(Report report, String key, String unit, List<Ratio> ratios) {
    Map<String, Object> j = new LinkedHashMap<>();
    List<Map<String, Object>> runs = new ArrayList<>();
    int width = labels.stream().mapToInt(String::length).max().orElse(8);
    for (int i = 0; i < orders.size(); i++) {
      report.text("  run %d:", i + 1);
      Map<String, Object> rj = new LinkedHashMap<>();
      rj.put("order", orders.get(i));
      for (String label : orders.get(i)) {
        Measured m = results.get(label).get(i);
        report.text("    %-" + width + "s %10.1f %s  %s", label, m.value(), unit, m.conditions());
        rj.put(
            label, Map.of("value", Stats.round1(m.value()), "conditions", m.conditions().json()));
      }
      runs.add(rj);
    }
    j.put("runs", runs);
    Map<String, Object> medians = new LinkedHashMap<>();
    report.text("  medians over %d runs:", orders.size());
    for (String label : labels) {
      Stats s = stats(label);
      report.text(
          "    %-" + width + "s %10.1f %s  (min %.1f, max %.1f)",
          label,
          s.median(),
          unit,
          s.min(),
          s.max());
      medians.put(label, Stats.round1(s.median()));
    }
    j.put("medians", medians);
    cpuReport(report, j, width);
    List<Map<String, Object>> rj = new ArrayList<>();
    for (Ratio r : ratios) {
      if (!results.containsKey(r.num()) || !results.containsKey(r.den())) {
        continue;
      }
      Stats p = pairs(r.num(), r.den());
      double ofMedians = stats(r.num()).median() / stats(r.den()).median();
      String verdict =
          Double.isNaN(r.target())
              ? ""
              : String.format(
                  "; target >= %.2f: %s", r.target(), p.median() >= r.target() ? "met" : "MISSED");
      report.text(
          "  %s / %s: per-pair median %.3f (min %.3f, max %.3f, n=%d), ratio of medians %.3f%s",
          r.num(), r.den(), p.median(), p.min(), p.max(), p.count(), ofMedians, verdict);
      Stats q = quietPairs(r.num(), r.den());
      report.text(
          "    quiet pairs only (steal < %.0f%% in both): %s",
          QUIET_STEAL_PERCENT,
          q.count() == 0
              ? "none"
              : String.format(
                  "per-pair median %.3f (min %.3f, max %.3f, n=%d of %d)",
                  q.median(), q.min(), q.max(), q.count(), p.count()));
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("num", r.num());
      m.put("den", r.den());
      m.put("pairMedian", Stats.round3(p.median()));
      m.put("pairMin", Stats.round3(p.min()));
      m.put("pairMax", Stats.round3(p.max()));
      m.put("ratioOfMedians", Stats.round3(ofMedians));
      m.put("quietPairs", q.count());
      if (q.count() > 0) {
        m.put("quietPairMedian", Stats.round3(q.median()));
      }
      if (!Double.isNaN(r.target())) {
        m.put("target", r.target());
        m.put("met", p.median() >= r.target());
      }
      rj.add(m);
    }
    j.put("ratios", rj);
    report.put(key, j);
  }

  /**
   * The medians of the CPU per task, for the contenders that measured it: which side, the consumer
   * or the broker, a gap between two of them comes from. Next to them, the share of a CPU each side
   * kept busy (CPU per task times the rate): where the broker's share is the same for two
   * consumers, its higher CPU per task for the slower one is the same work spread over a longer
   * drain, not more work (docs/benchmarks.md, forty-sixth session).
   */
  private void cpuReport(Report report, Map<String, Object> j, int width) {
    Map<String, Object> cpu = new LinkedHashMap<>();
    for (String label : labels) {
      List<Measured> per = results.get(label).stream().filter(m -> m.cpu() != null).toList();
      if (per.isEmpty()) {
        continue;
      }
      if (cpu.isEmpty()) {
        report.text(
            "  CPU per task, medians over the runs (jvm: this JVM, the consumer or publisher"
                + " and the bench, and the processes it reaped), and the share of a CPU each"
                + " side kept busy:");
      }
      double jvm = median(per, m -> m.cpu().jvmMicros());
      double broker = median(per, m -> m.cpu().brokerMicros());
      double jvmBusy = median(per, m -> m.cpu().jvmMicros() * m.value() / 1e6);
      double brokerBusy = median(per, m -> m.cpu().brokerMicros() * m.value() / 1e6);
      report.text(
          "    %-"
              + width
              + "s jvm %5.1f µs  broker %5.1f µs  both %5.1f µs"
              + "   busy: jvm %.2f, broker %.2f CPU",
          label,
          jvm,
          broker,
          jvm + broker,
          jvmBusy,
          brokerBusy);
      cpu.put(
          label,
          Map.of(
              "jvmMicros",
              Stats.round1(jvm),
              "brokerMicros",
              Stats.round1(broker),
              "jvmBusyCpus",
              Math.round(jvmBusy * 100) / 100.0,
              "brokerBusyCpus",
              Math.round(brokerBusy * 100) / 100.0));
    }
    if (!cpu.isEmpty()) {
      j.put("cpuPerTask", cpu);
    }
  }

  private static double median(List<Measured> rounds, ToDoubleFunction<Measured> figure) {
    return new Stats(rounds.stream().map(m -> figure.applyAsDouble(m)).toList()).median();
  }
}
