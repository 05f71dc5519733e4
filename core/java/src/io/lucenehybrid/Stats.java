package io.lucenehybrid;

import io.anserini.search.query.BagOfWordsQueryGenerator;
import java.io.IOException;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.index.IndexReader;
import org.apache.lucene.index.Term;
import org.apache.lucene.search.CollectionStatistics;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.QueryVisitor;
import org.apache.lucene.search.TermStatistics;
import org.apache.lucene.search.similarities.BM25Similarity;

/**
 * BM25 over one shard of a collection, scored with the whole collection's statistics (as
 * Elasticsearch's dfs_query_then_fetch does): a router asks every shard for its statistics of a
 * query's terms ({@link #terms}), adds them up, and hands the sums to each shard's search ({@link
 * #bm25}). A document then gets the score it would get in one index holding every shard's
 * documents.
 *
 * <p>Statistics travel as text: a first line "maxDoc docCount sumTotalTermFreq sumDocFreq" for the
 * field, then one line per query term, "docFreq totalTermFreq term" (analyzed terms hold no
 * whitespace).
 */
public final class Stats {
  private Stats() {}

  /** The statistics of the field and of each of the query's analyzed terms in this index. */
  public static String terms(Index index, Analyzer analyzer, String field, String query)
      throws IOException {
    Query q = new BagOfWordsQueryGenerator().buildQuery(field, analyzer, query);
    IndexSearcher searcher = index.acquire();
    try {
      IndexReader reader = searcher.getIndexReader();
      StringBuilder sb = new StringBuilder();
      CollectionStatistics c = searcher.collectionStatistics(field);
      if (c == null) {
        sb.append(reader.maxDoc()).append(" 0 0 0");
      } else {
        sb.append(c.maxDoc()).append(' ').append(c.docCount()).append(' ');
        sb.append(c.sumTotalTermFreq()).append(' ').append(c.sumDocFreq());
      }
      for (Term term : termsOf(q)) {
        sb.append('\n').append(reader.docFreq(term)).append(' ');
        sb.append(reader.totalTermFreq(term)).append(' ').append(term.text());
      }
      return sb.toString();
    } finally {
      index.release(searcher);
    }
  }

  /**
   * The query's analyzed terms, one a line, as {@link #terms} lists them: a router that keeps
   * each shard's statistics term by term sees which it holds without asking the shards.
   */
  public static String analyze(Analyzer analyzer, String field, String query) {
    Query q = new BagOfWordsQueryGenerator().buildQuery(field, analyzer, query);
    StringBuilder sb = new StringBuilder();
    for (Term term : termsOf(q)) {
      if (sb.length() > 0) {
        sb.append('\n');
      }
      sb.append(term.text());
    }
    return sb.toString();
  }

  /**
   * As {@link Search#bm25}, scored with the collection-wide statistics {@code stats} (the sums of
   * every shard's {@link #terms}), and with the raw scores: the router merges the shards' lists
   * and then breaks ties as one index would.
   */
  public static String bm25(
      Index index,
      Analyzer analyzer,
      String field,
      String query,
      int k,
      float k1,
      float b,
      String filterJson,
      String stats)
      throws IOException {
    Query q = Search.bagOfWords(analyzer, field, query, filterJson);
    IndexSearcher shared = index.acquire();
    try {
      IndexSearcher searcher = new Global(shared.getIndexReader(), field, stats);
      searcher.setSimilarity(new BM25Similarity(k1, b));
      return Search.format(searcher, Search.topScoreThenId(searcher, q, k));
    } finally {
      index.release(shared);
    }
  }

  private static Set<Term> termsOf(Query q) {
    Set<Term> terms = new LinkedHashSet<>();
    q.visit(QueryVisitor.termCollector(terms));
    return terms;
  }

  /** A searcher that answers the field's and its terms' statistics from the given sums. */
  private static final class Global extends IndexSearcher {
    private final String field;
    private final CollectionStatistics collection;
    private final Map<String, long[]> terms = new HashMap<>();

    Global(IndexReader reader, String field, String stats) {
      super(reader);
      this.field = field;
      String[] lines = stats.split("\n");
      String[] c = lines[0].split(" ");
      long maxDoc = Long.parseLong(c[0]);
      long docCount = Long.parseLong(c[1]);
      this.collection =
          docCount == 0
              ? null
              : new CollectionStatistics(
                  field, maxDoc, docCount, Long.parseLong(c[2]), Long.parseLong(c[3]));
      for (int i = 1; i < lines.length; i++) {
        String[] t = lines[i].split(" ", 3);
        terms.put(t[2], new long[] {Long.parseLong(t[0]), Long.parseLong(t[1])});
      }
    }

    @Override
    public CollectionStatistics collectionStatistics(String f) throws IOException {
      if (f.equals(field) && collection != null) {
        return collection;
      }
      return super.collectionStatistics(f);
    }

    @Override
    public TermStatistics termStatistics(Term term, int docFreq, long totalTermFreq)
        throws IOException {
      long[] s = term.field().equals(field) ? terms.get(term.text()) : null;
      if (s == null || s[0] < docFreq) { // not gathered (or fewer than this shard holds)
        return super.termStatistics(term, docFreq, totalTermFreq);
      }
      return new TermStatistics(term.bytes(), s[0], s[1]);
    }
  }
}
