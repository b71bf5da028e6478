package dev.conveyor.dashboard;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class ViewTest {

  private static final List<Integer> ROWS = IntStream.range(0, 250).boxed().toList();

  @Test
  void pagesAreOfAHundredRowsAndTheLastPageIsShortAndAPageTooFarIsTheLast() {
    View.Paged<Integer> first = View.Paged.of(ROWS, r -> true, 1);
    assertThat(first.rows()).hasSize(100).startsWith(0).endsWith(99);
    assertThat(first.pages()).isEqualTo(3);
    assertThat(first.from()).isEqualTo(1);
    assertThat(first.to()).isEqualTo(100);

    View.Paged<Integer> last = View.Paged.of(ROWS, r -> true, 3);
    assertThat(last.rows()).hasSize(50).startsWith(200).endsWith(249);
    assertThat(View.Paged.of(ROWS, r -> true, 7)).isEqualTo(last);

    View.Paged<Integer> none = View.Paged.of(ROWS, r -> r > 1000, 2);
    assertThat(none.rows()).isEmpty();
    assertThat(none.page()).isEqualTo(1);
    assertThat(none.matched()).isZero();
    assertThat(none.total()).isEqualTo(250);
  }

  @Test
  void theViewIsReadFromTheQueryAndBadValuesAreTheDefault() {
    Map<String, String> q = Map.of("tq", "  Sleep ", "tp", "3", "wp", "x", "wq", "-");
    View v = View.of(q::get);
    assertThat(v).isEqualTo(new View("Sleep", 3, "-", 1));
    assertThat(View.of(Map.of("tp", "-4", "wp", "99999999999")::get)).isEqualTo(View.FIRST);
    assertThat(View.of(k -> null)).isEqualTo(View.FIRST);
    assertThat(View.of(Map.of("tq", "a".repeat(500))::get).taskFilter()).hasSize(View.FILTER_MAX);
  }

  @Test
  void aFilterMatchesAnyFieldIgnoringCase() {
    assertThat(View.matches("", "anything")).isTrue();
    assertThat(View.matches("sle", "t-1", "Sleep", null)).isTrue();
    assertThat(View.matches("w-2", "t-1", "sleep", "w-1")).isFalse();
  }

  @Test
  void thePagerSaysWhatItShowsAndOffersTheNextPage() {
    String html =
        Pages.pager(
            "tasks",
            View.Paged.of(ROWS, r -> true, 1),
            "",
            "running tasks",
            "oldest first",
            "filter to narrow");
    assertThat(html)
        .contains("showing 1\u2013100 of 250 running tasks, oldest first \u2014 filter to narrow")
        .contains("data-total=\"250\"")
        .contains("data-page=\"2\"")
        .contains("next 100")
        .doesNotContain("previous");
    String filtered =
        Pages.pager(
            "tasks",
            View.Paged.of(ROWS, r -> r < 3, 1),
            "x<y",
            "running tasks",
            "oldest first",
            "filter to narrow");
    assertThat(filtered)
        .contains("showing 3 of 3 running tasks matching \u201cx&lt;y\u201d (of 250)")
        .doesNotContain("<button");
    String all =
        Pages.pager(
            "tasks",
            View.Paged.of(List.of(1, 2), r -> true, 1),
            "",
            "running tasks",
            "oldest first",
            "filter to narrow");
    assertThat(all).doesNotContain("showing").doesNotContain("<button");
    assertThat(Pages.num(1000)).isEqualTo("1 000");
  }
}
