package dev.conveyor.dashboard;

import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * What one browser looks at of the two long tables: the running tasks and the workers, each
 * filtered by a text and cut into pages of {@value #PAGE} rows. The page's address carries it
 * ({@code ?tq=&tp=&wq=&wp=}) and so does the page's event stream, so the server renders and sends
 * only the rows that browser shows.
 */
record View(String taskFilter, int taskPage, String workerFilter, int workerPage) {

  /** Rows per page. */
  static final int PAGE = 100;

  /** The longest filter text taken; the rest is dropped. */
  static final int FILTER_MAX = 200;

  static final View FIRST = new View("", 1, "", 1);

  View {
    taskFilter = clean(taskFilter);
    workerFilter = clean(workerFilter);
    taskPage = Math.max(1, taskPage);
    workerPage = Math.max(1, workerPage);
  }

  /** The view a request asks for by its query parameters; anything unreadable is the default. */
  static View of(Function<String, String> param) {
    return new View(
        param.apply("tq"), page(param.apply("tp")), param.apply("wq"), page(param.apply("wp")));
  }

  private static int page(String s) {
    if (s == null || s.isBlank() || s.length() > 9) {
      return 1;
    }
    try {
      return Integer.parseInt(s.strip());
    } catch (NumberFormatException e) {
      return 1;
    }
  }

  private static String clean(String s) {
    if (s == null) {
      return "";
    }
    String t = s.strip();
    return t.length() > FILTER_MAX ? t.substring(0, FILTER_MAX) : t;
  }

  /** True when {@code filter} is empty or, ignoring case, part of one of {@code fields}. */
  static boolean matches(String filter, String... fields) {
    if (filter.isEmpty()) {
      return true;
    }
    String f = filter.toLowerCase(Locale.ROOT);
    for (String field : fields) {
      if (field != null && field.toLowerCase(Locale.ROOT).contains(f)) {
        return true;
      }
    }
    return false;
  }

  /**
   * One page of the rows that match: {@code page} is 1-based and clamped to the last page, so a
   * page that emptied as tasks finished shows the last one left.
   */
  record Paged<T>(List<T> rows, int from, int to, int matched, int total, int page, int pages) {
    static <T> Paged<T> of(List<T> all, Predicate<T> match, int page) {
      List<T> matching = all.stream().filter(match).toList();
      int pages = Math.max(1, (matching.size() + PAGE - 1) / PAGE);
      int p = Math.min(Math.max(1, page), pages);
      int from = (p - 1) * PAGE;
      int to = Math.min(matching.size(), from + PAGE);
      return new Paged<>(
          matching.subList(from, to), from + 1, to, matching.size(), all.size(), p, pages);
    }
  }
}
