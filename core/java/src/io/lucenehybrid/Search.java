package io.lucenehybrid;

import io.anserini.search.query.BagOfWordsQueryGenerator;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.PriorityQueue;
import java.util.Set;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.index.BinaryDocValues;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.FieldInfo;
import org.apache.lucene.index.FloatVectorValues;
import org.apache.lucene.index.KnnVectorValues;
import org.apache.lucene.index.IndexReader;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.MultiBits;
import org.apache.lucene.index.MultiTerms;
import org.apache.lucene.index.PostingsEnum;
import org.apache.lucene.index.ReaderUtil;
import org.apache.lucene.index.StoredFields;
import org.apache.lucene.index.Term;
import org.apache.lucene.index.Terms;
import org.apache.lucene.index.TermsEnum;
import org.apache.lucene.index.VectorSimilarityFunction;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.ConstantScoreQuery;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.KnnFloatVectorQuery;
import org.apache.lucene.search.MatchAllDocsQuery;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.ScoreMode;
import org.apache.lucene.search.Scorer;
import org.apache.lucene.search.SimpleCollector;
import org.apache.lucene.search.Sort;
import org.apache.lucene.search.SortField;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.search.Weight;
import org.apache.lucene.search.similarities.BM25Similarity;
import org.apache.lucene.util.Bits;
import org.apache.lucene.util.BytesRef;
import org.apache.lucene.util.FixedBitSet;

/**
 * Search entry points for lucene-hybrid, called from Python through pyjnius.
 *
 * <p>Every method is static: pyjnius binds instance methods by storing the receiver on a
 * descriptor shared by all threads, which races when Python threads call the same method on
 * different objects (we saw JVM crashes). Static methods have no receiver, so concurrent
 * searches are safe. Each search crosses the Python/Java boundary once and returns plain
 * strings, not a Java object per hit.
 */
public final class Search {
  public static final String ID = "id";
  public static final String RAW = "raw";
  private static final Sort SCORE_THEN_ID =
      new Sort(SortField.FIELD_SCORE, new SortField(ID, SortField.Type.STRING_VAL));
  private static final Set<String> ID_ONLY = Set.of(ID);

  /**
   * A bag-of-words query has one clause per distinct term, and the server's query-length limit
   * (4,096 characters by default; one CJK ideograph is one term) can exceed Lucene's default of
   * 1,024 clauses. Raised once, for the whole JVM.
   */
  public static final int MAX_CLAUSES = 1 << 16;

  static {
    if (IndexSearcher.getMaxClauseCount() < MAX_CLAUSES) {
      IndexSearcher.setMaxClauseCount(MAX_CLAUSES);
    }
  }

  private Search() {}

  /**
   * BM25 top-k (as {@link #hits}), exactly as Pyserini's LuceneSearcher ranks them:
   * Lucene's order (score, then docid), then Anserini's ScoreTiesAdjusterReranker (scores rounded
   * to 4 decimals; a run of near-ties keeps docid order by subtracting 1e-6 per position). An
   * optional metadata filter (JSON) restricts the candidates before ranking.
   */
  public static String bm25(
      Index index,
      Analyzer analyzer,
      String field,
      String query,
      int k,
      float k1,
      float b,
      String filterJson)
      throws IOException {
    Query q = bagOfWords(analyzer, field, query, filterJson);
    IndexSearcher shared = index.acquire();
    try {
      IndexSearcher searcher = new IndexSearcher(shared.getIndexReader());
      searcher.setSimilarity(new BM25Similarity(k1, b));
      return format(searcher, adjustTies(topScoreThenId(searcher, q, k)));
    } finally {
      index.release(shared);
    }
  }

  /** A bag-of-words query over {@code field}, within a metadata filter (JSON; null: none). */
  static Query bagOfWords(Analyzer analyzer, String field, String query, String filterJson)
      throws IOException {
    Query q = new BagOfWordsQueryGenerator().buildQuery(field, analyzer, query);
    Query filter = Metadata.parseFilter(filterJson);
    if (filter == null) {
      return q;
    }
    return new BooleanQuery.Builder()
        .add(q, BooleanClause.Occur.MUST)
        .add(filter, BooleanClause.Occur.FILTER)
        .build();
  }

  /**
   * Up to {@code limit} documents matching a metadata filter (JSON; null matches all), in index
   * order (as {@link #hits}; the score is a constant 1).
   */
  public static String filterIds(Index index, String filterJson, int limit) throws IOException {
    Query filter = Metadata.parseFilter(filterJson);
    Query q = new ConstantScoreQuery(filter == null ? new MatchAllDocsQuery() : filter);
    IndexSearcher searcher = index.acquire();
    try {
      return format(searcher, searcher.search(q, Math.max(1, limit)));
    } finally {
      index.release(searcher);
    }
  }

  /**
   * One page of a walk through the documents in id order: up to {@code limit} ids of live
   * documents matching a metadata filter (JSON; null matches all) whose id sorts after {@code
   * after} (null: from the first), as {@link #hits} with a constant score of 1. Ids sort as
   * Lucene's terms do, by UTF-8 bytes, which is code point order. The walk reads the id field's
   * term dictionary from {@code after} on, so a page costs the ids it passes over, not the
   * collection's size; a filter is first run once into a bit set of its matches. A cursor is an
   * id, not a position: documents written between pages never make a page repeat or skip one
   * that was there throughout.
   */
  public static String idsAfter(Index index, String filterJson, int limit, String after)
      throws IOException {
    Query filter = Metadata.parseFilter(filterJson);
    IndexSearcher searcher = index.acquire();
    try {
      IndexReader reader = searcher.getIndexReader();
      Bits matches = filter == null ? null : matching(searcher, filter);
      Bits live = MultiBits.getLiveDocs(reader);
      Terms terms = MultiTerms.getTerms(reader, ID);
      if (terms == null || limit < 1) {
        return "";
      }
      List<String> ids = new ArrayList<>();
      TermsEnum walk = terms.iterator();
      BytesRef term;
      if (after == null) {
        term = walk.next();
      } else {
        BytesRef from = new BytesRef(after);
        TermsEnum.SeekStatus seek = walk.seekCeil(from);
        term =
            seek == TermsEnum.SeekStatus.END
                ? null
                : seek == TermsEnum.SeekStatus.FOUND ? walk.next() : walk.term();
      }
      PostingsEnum postings = null;
      for (; term != null && ids.size() < limit; term = walk.next()) {
        postings = walk.postings(postings, PostingsEnum.NONE);
        for (int doc = postings.nextDoc();
            doc != DocIdSetIterator.NO_MORE_DOCS;
            doc = postings.nextDoc()) {
          if ((live == null || live.get(doc)) && (matches == null || matches.get(doc))) {
            ids.add(term.utf8ToString());
            break; // one live version per id
          }
        }
      }
      float[] ones = new float[ids.size()];
      java.util.Arrays.fill(ones, 1f);
      return hits(ids.toArray(new String[0]), ones);
    } finally {
      index.release(searcher);
    }
  }

  /** The documents (top-level doc numbers) a query matches, as a bit set. */
  private static Bits matching(IndexSearcher searcher, Query query) throws IOException {
    FixedBitSet bits = new FixedBitSet(Math.max(1, searcher.getIndexReader().maxDoc()));
    searcher.search(
        new ConstantScoreQuery(query),
        new SimpleCollector() {
          private int base;

          @Override
          protected void doSetNextReader(LeafReaderContext context) {
            base = context.docBase;
          }

          @Override
          public void collect(int doc) {
            bits.set(base + doc);
          }

          @Override
          public ScoreMode scoreMode() {
            return ScoreMode.COMPLETE_NO_SCORES;
          }
        });
    return bits;
  }

  /**
   * The top k by score, ties by docid string: Pyserini's order. Its (score, id) sort reads the id
   * of every candidate that enters the queue: 0.47 ms per SciFact query at k=100, where Lucene's
   * plain top-k took 0.24 ms. The plain top-k ranks the same documents, ties by internal doc
   * number, unless a tie straddles the cut; one more hit than asked says whether one does, and
   * only then is the sort run. Otherwise the k hits are reordered by (score, id) here.
   */
  static TopDocs topScoreThenId(IndexSearcher searcher, Query q, int k) throws IOException {
    if (k < 1) {
      return searcher.search(q, k, SCORE_THEN_ID, true); // Lucene's own error for k < 1
    }
    TopDocs plain = searcher.search(q, k + 1);
    ScoreDoc[] docs = plain.scoreDocs;
    if (docs.length > k && docs[k].score == docs[k - 1].score) {
      return searcher.search(q, k, SCORE_THEN_ID, true);
    }
    ScoreDoc[] top = java.util.Arrays.copyOf(docs, Math.min(k, docs.length));
    var leaves = searcher.getIndexReader().leaves();
    for (int start = 0, end; start < top.length; start = end) { // each run of equal scores
      end = start + 1;
      while (end < top.length && top[end].score == top[start].score) {
        end++;
      }
      if (end - start > 1) {
        java.util.Map<ScoreDoc, String> ids = new java.util.IdentityHashMap<>();
        for (int i = start; i < end; i++) {
          ids.put(top[i], idOf(leaves, top[i].doc));
        }
        java.util.Arrays.sort(top, start, end, java.util.Comparator.comparing(ids::get));
      }
    }
    return new TopDocs(plain.totalHits, top);
  }

  /** Anserini's ScoreTiesAdjusterReranker, applied in place to sorted hits. */
  static TopDocs adjustTies(TopDocs top) {
    int dup = 0;
    ScoreDoc[] docs = top.scoreDocs;
    for (int i = 0; i < docs.length; i++) {
      docs[i].score = (float) (Math.round(docs[i].score * 10000.0) / 10000.0);
      if (i == 0 || docs[i - 1].score - docs[i].score > 1e-4f) {
        dup = 0;
      } else {
        dup++;
        docs[i].score -= 1e-6f * dup;
      }
    }
    return top;
  }

  /**
   * HNSW top-k by the field's similarity; the query vector comes as little-endian float32 bytes
   * (one copy instead of a per-element conversion). efSearch is the candidate list size. A
   * filter is a Lucene pre-filter: the k hits returned all satisfy it (Lucene switches to exact
   * search when the filter is very selective). With rescore > 0 (quantized formats) the graph's
   * best max(k, rescore) are scored again with the stored float32 vectors, and the best k of those
   * are returned with their exact scores.
   */
  public static String knn(
      Index index, String field, byte[] vector, int k, int efSearch, String filterJson, int rescore)
      throws IOException {
    float[] target = floats(vector);
    Query filter = Metadata.parseFilter(filterJson);
    int n = Math.max(k, rescore);
    Query q = new KnnFloatVectorQuery(field, target, Math.max(n, efSearch), filter);
    IndexSearcher searcher = index.acquire();
    try {
      if (rescore <= 0) {
        return format(searcher, searcher.search(q, k, SCORE_THEN_ID, true));
      }
      ScoreDoc[] candidates = searcher.search(q, n).scoreDocs.clone();
      java.util.Arrays.sort(candidates, (a, b) -> Integer.compare(a.doc, b.doc));
      var leaves = searcher.getIndexReader().leaves();
      int leafAt = -1;
      FloatVectorValues values = null;
      KnnVectorValues.DocIndexIterator it = null;
      VectorSimilarityFunction similarity = null;
      for (ScoreDoc hit : candidates) { // in doc order: one forward pass per leaf
        int ord = ReaderUtil.subIndex(hit.doc, leaves);
        LeafReaderContext leaf = leaves.get(ord);
        if (ord != leafAt) {
          leafAt = ord;
          values = leaf.reader().getFloatVectorValues(field);
          it = values.iterator();
          similarity = leaf.reader().getFieldInfos().fieldInfo(field).getVectorSimilarityFunction();
        }
        if (it.advance(hit.doc - leaf.docBase) == hit.doc - leaf.docBase) {
          hit.score = similarity.compare(target, values.vectorValue(it.index()));
        }
      }
      return sortedHits(leaves, candidates, k);
    } finally {
      index.release(searcher);
    }
  }

  private static float[] floats(byte[] vector) {
    FloatBuffer buf = ByteBuffer.wrap(vector).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
    float[] target = new float[buf.remaining()];
    buf.get(target);
    return target;
  }

  /**
   * Exact (brute-force) top-k: every live vector that passes the optional filter is scored with
   * the field's similarity, as Lucene's flat search does; no graph, so recall is 1. Costs one
   * similarity per document: for small collections, or as the reference HNSW is measured against.
   */
  public static String exactKnn(Index index, String field, byte[] vector, int k, String filterJson)
      throws IOException {
    float[] target = floats(vector);
    Query filter = Metadata.parseFilter(filterJson);
    IndexSearcher searcher = index.acquire();
    try {
      Weight weight =
          filter == null
              ? null
              : searcher.createWeight(searcher.rewrite(filter), ScoreMode.COMPLETE_NO_SCORES, 1f);
      // Min-heap of the best k so far: lowest score (then highest doc) on top.
      PriorityQueue<ScoreDoc> best =
          new PriorityQueue<>(
              Math.max(1, k),
              (a, b) -> a.score != b.score ? Float.compare(a.score, b.score) : b.doc - a.doc);
      for (LeafReaderContext leaf : searcher.getIndexReader().leaves()) {
        FloatVectorValues values = leaf.reader().getFloatVectorValues(field);
        FieldInfo info = leaf.reader().getFieldInfos().fieldInfo(field);
        if (values == null || info == null) {
          continue;
        }
        var similarity = info.getVectorSimilarityFunction();
        Bits live = leaf.reader().getLiveDocs();
        DocIdSetIterator allowed = null;
        if (weight != null) {
          Scorer scorer = weight.scorer(leaf);
          if (scorer == null) {
            continue;
          }
          allowed = scorer.iterator();
        }
        KnnVectorValues.DocIndexIterator it = values.iterator();
        for (int doc = it.nextDoc(); doc != DocIdSetIterator.NO_MORE_DOCS; doc = it.nextDoc()) {
          if (live != null && !live.get(doc)) {
            continue;
          }
          if (allowed != null) {
            int at = allowed.docID() < doc ? allowed.advance(doc) : allowed.docID();
            if (at != doc) {
              continue;
            }
          }
          float score = similarity.compare(target, values.vectorValue(it.index()));
          if (best.size() < k) {
            best.add(new ScoreDoc(leaf.docBase + doc, score));
          } else if (score > best.peek().score) {
            best.poll();
            best.add(new ScoreDoc(leaf.docBase + doc, score));
          }
        }
      }
      return sortedHits(searcher.getIndexReader().leaves(), best.toArray(new ScoreDoc[0]), k);
    } finally {
      index.release(searcher);
    }
  }

  /** The best k of scored documents, by score then id (the order every ranking here uses). */
  private static String sortedHits(List<LeafReaderContext> leaves, ScoreDoc[] top, int k)
      throws IOException {
    String[] ids = new String[top.length];
    Integer[] order = new Integer[top.length];
    for (int i = 0; i < top.length; i++) {
      ids[i] = idOf(leaves, top[i].doc);
      order[i] = i;
    }
    java.util.Arrays.sort(
        order,
        (a, b) ->
            top[a].score != top[b].score
                ? Float.compare(top[b].score, top[a].score)
                : ids[a].compareTo(ids[b]));
    int n = Math.min(k, top.length);
    String[] sortedIds = new String[n];
    float[] scores = new float[n];
    for (int i = 0; i < n; i++) {
      sortedIds[i] = ids[order[i]];
      scores[i] = top[order[i]].score;
    }
    return hits(sortedIds, scores);
  }

  /**
   * The reader's version: it changes whenever a refresh makes writes visible. Whatever was read
   * at one version (a {@link #vectorSnapshot}) is current while this returns the same number.
   */
  public static long version(Index index) throws IOException {
    IndexSearcher searcher = index.acquire();
    try {
      return ((DirectoryReader) searcher.getIndexReader()).getVersion();
    } finally {
      index.release(searcher);
    }
  }

  /**
   * Every live document's vector, from one point-in-time reader, in one array: a header of five
   * little-endian ints/longs (version: long; count, dim, similarity ordinal, id bytes: int), the
   * ids as UTF-8 joined by '\n', then count x dim float32 (little-endian), in the same order.
   */
  public static byte[] vectorSnapshot(Index index, String field) throws IOException {
    IndexSearcher searcher = index.acquire();
    try {
      long version = ((DirectoryReader) searcher.getIndexReader()).getVersion();
      List<LeafReaderContext> leaves = searcher.getIndexReader().leaves();
      // Pass 1: the live documents' ids (sizes the array); pass 2: their vectors, in place.
      List<String> ids = new ArrayList<>();
      int dim = 0;
      int similarity = -1;
      for (LeafReaderContext leaf : leaves) {
        FloatVectorValues values = leaf.reader().getFloatVectorValues(field);
        if (values == null) {
          continue;
        }
        dim = values.dimension();
        similarity = leaf.reader().getFieldInfos().fieldInfo(field).getVectorSimilarityFunction().ordinal();
        Bits live = leaf.reader().getLiveDocs();
        KnnVectorValues.DocIndexIterator it = values.iterator();
        for (int doc = it.nextDoc(); doc != DocIdSetIterator.NO_MORE_DOCS; doc = it.nextDoc()) {
          if (live == null || live.get(doc)) {
            ids.add(idOf(leaves, leaf.docBase + doc));
          }
        }
      }
      byte[] idBytes = String.join("\n", ids).getBytes(StandardCharsets.UTF_8);
      long size = 8L + 4 * 4 + idBytes.length + 4L * dim * ids.size();
      if (size > Integer.MAX_VALUE - 64) {
        throw new IOException(ids.size() + " vectors of " + dim + " dims do not fit one array");
      }
      ByteBuffer out =
          ByteBuffer.allocate((int) size)
              .order(ByteOrder.LITTLE_ENDIAN);
      out.putLong(version).putInt(ids.size()).putInt(dim).putInt(similarity);
      out.putInt(idBytes.length).put(idBytes);
      FloatBuffer floats = out.slice().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
      for (LeafReaderContext leaf : leaves) {
        FloatVectorValues values = leaf.reader().getFloatVectorValues(field);
        if (values == null) {
          continue;
        }
        Bits live = leaf.reader().getLiveDocs();
        KnnVectorValues.DocIndexIterator it = values.iterator();
        for (int doc = it.nextDoc(); doc != DocIdSetIterator.NO_MORE_DOCS; doc = it.nextDoc()) {
          if (live == null || live.get(doc)) {
            floats.put(values.vectorValue(it.index()));
          }
        }
      }
      return out.array();
    } finally {
      index.release(searcher);
    }
  }

  /** Stored raw JSON of documents by id; a missing id gives null at its position. */
  public static String[] raw(Index index, String[] ids) throws IOException {
    return raw(index, ids, Long.MAX_VALUE);
  }

  /**
   * As {@link #raw(Index, String[])}, but reading stops at the first document that would take
   * the characters read past {@code maxChars}: the answer is then the prefix of {@code ids} that
   * fits (shorter than {@code ids}), so an over-large answer is never built in memory.
   */
  public static String[] raw(Index index, String[] ids, long maxChars) throws IOException {
    IndexSearcher searcher = index.acquire();
    try {
      StoredFields stored = searcher.getIndexReader().storedFields();
      String[] out = new String[ids.length];
      long chars = 0;
      for (int i = 0; i < ids.length; i++) {
        TopDocs top = searcher.search(new TermQuery(new Term(ID, ids[i])), 1);
        if (top.scoreDocs.length > 0) {
          String raw = stored.document(top.scoreDocs[0].doc).get(RAW);
          chars += raw.length();
          if (chars > maxChars) {
            return Arrays.copyOf(out, i);
          }
          out[i] = raw;
        }
      }
      return out;
    } finally {
      index.release(searcher);
    }
  }

  /** A document's vector as base64 little-endian float32, or null when the id is absent. */
  public static String vector(Index index, String id) throws IOException {
    float[] v = Store.vectorOf(index, id);
    if (v == null) {
      return null;
    }
    ByteBuffer buf = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    buf.asFloatBuffer().put(v);
    return Base64.getEncoder().encodeToString(buf.array());
  }

  /** Live documents in the index, as of the latest refresh. */
  public static int numDocs(Index index) throws IOException {
    IndexSearcher searcher = index.acquire();
    try {
      return searcher.getIndexReader().numDocs();
    } finally {
      index.release(searcher);
    }
  }

  /** Open an index for search only. */
  public static Index open(String path) throws IOException {
    return Index.openReadOnly(path);
  }

  /** Close an index handle (and its writer, if any). */
  public static void close(Index index) throws IOException {
    index.close();
  }

  static String format(IndexSearcher searcher, TopDocs top) throws IOException {
    ScoreDoc[] docs = top.scoreDocs;
    String[] ids = new String[docs.length];
    float[] scores = new float[docs.length];
    var leaves = searcher.getIndexReader().leaves();
    for (int i = 0; i < docs.length; i++) {
      ids[i] = idOf(leaves, docs[i].doc);
      scores[i] = docs[i].score;
    }
    return hits(ids, scores);
  }

  /**
   * Hits as one string for Python to split in two calls, with no object per hit: the scores on
   * the first line, space-separated, then one docid per line. Empty when there are none.
   */
  private static String hits(String[] ids, float[] scores) {
    if (ids.length == 0) {
      return "";
    }
    StringBuilder sb = new StringBuilder(ids.length * 24);
    for (int i = 0; i < scores.length; i++) {
      sb.append(i == 0 ? "" : " ").append(scores[i]);
    }
    for (String id : ids) {
      sb.append('\n').append(id);
    }
    return sb.toString();
  }

  private static String idOf(List<LeafReaderContext> leaves, int doc) throws IOException {
    LeafReaderContext leaf = leaves.get(ReaderUtil.subIndex(doc, leaves));
    BinaryDocValues ids = leaf.reader().getBinaryDocValues(ID);
    if (ids != null && ids.advanceExact(doc - leaf.docBase)) {
      BytesRef ref = ids.binaryValue();
      return ref.utf8ToString();
    }
    return leaf.reader().storedFields().document(doc - leaf.docBase, ID_ONLY).get(ID);
  }
}
