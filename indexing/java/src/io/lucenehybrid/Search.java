package io.lucenehybrid;

import io.anserini.search.query.BagOfWordsQueryGenerator;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Set;
import org.apache.lucene.analysis.Analyzer;
import java.nio.file.Paths;
import org.apache.lucene.index.BinaryDocValues;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexReader;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.ReaderUtil;
import org.apache.lucene.index.StoredFields;
import org.apache.lucene.index.Term;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.KnnFloatVectorQuery;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.Sort;
import org.apache.lucene.search.SortField;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.search.similarities.BM25Similarity;
import org.apache.lucene.store.FSDirectory;
import org.apache.lucene.util.BytesRef;

/**
 * Search entry points for lucene-hybrid, called from Python through pyjnius.
 *
 * <p>Every method is static: pyjnius binds instance methods by storing the receiver on a
 * descriptor shared by all threads, which races when Python threads call the same method on
 * different objects. Static methods have no receiver, so concurrent searches are safe. Each
 * search crosses the Python/Java boundary once and returns plain strings, not a Java object per
 * hit.
 */
public final class Search {
  public static final String ID = "id";
  public static final String RAW = "raw";
  private static final Sort SCORE_THEN_ID =
      new Sort(SortField.FIELD_SCORE, new SortField(ID, SortField.Type.STRING_VAL));
  private static final Set<String> ID_ONLY = Set.of(ID);

  private Search() {}

  /**
   * BM25 top-k as "docid\tscore\n" lines, exactly as Pyserini's LuceneSearcher ranks them:
   * Lucene's order (score, then docid), then Anserini's ScoreTiesAdjusterReranker (scores rounded
   * to 4 decimals; a run of near-ties keeps docid order by subtracting 1e-6 per position).
   */
  public static String bm25(
      IndexReader reader, Analyzer analyzer, String field, String query, int k, float k1, float b)
      throws IOException {
    Query q = new BagOfWordsQueryGenerator().buildQuery(field, analyzer, query);
    IndexSearcher searcher = new IndexSearcher(reader);
    searcher.setSimilarity(new BM25Similarity(k1, b));
    return format(searcher, adjustTies(searcher.search(q, k, SCORE_THEN_ID, true)));
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
   * (one memcpy instead of a per-element conversion). efSearch is the candidate list size.
   */
  public static String knn(IndexReader reader, String field, byte[] vector, int k, int efSearch)
      throws IOException {
    FloatBuffer buf = ByteBuffer.wrap(vector).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
    float[] target = new float[buf.remaining()];
    buf.get(target);
    Query q = new KnnFloatVectorQuery(field, target, Math.max(k, efSearch));
    IndexSearcher searcher = new IndexSearcher(reader);
    return format(searcher, searcher.search(q, k, SCORE_THEN_ID, true));
  }

  /** Stored raw JSON of documents by id; a missing id gives null at its position. */
  public static String[] raw(IndexReader reader, String[] ids) throws IOException {
    IndexSearcher searcher = new IndexSearcher(reader);
    StoredFields stored = reader.storedFields();
    String[] out = new String[ids.length];
    for (int i = 0; i < ids.length; i++) {
      TopDocs top = searcher.search(new TermQuery(new Term(ID, ids[i])), 1);
      if (top.scoreDocs.length > 0) {
        out[i] = stored.document(top.scoreDocs[0].doc).get(RAW);
      }
    }
    return out;
  }

  /** Open a reader on an index directory. */
  public static IndexReader open(String path) throws IOException {
    return DirectoryReader.open(FSDirectory.open(Paths.get(path)));
  }

  /** Live documents in the index. */
  public static int numDocs(IndexReader reader) {
    return reader.numDocs();
  }

  /** Close a reader (static, like every entry point here). */
  public static void close(IndexReader reader) throws IOException {
    reader.close();
  }

  private static String format(IndexSearcher searcher, TopDocs top) throws IOException {
    StringBuilder sb = new StringBuilder(top.scoreDocs.length * 24);
    var leaves = searcher.getIndexReader().leaves();
    for (ScoreDoc sd : top.scoreDocs) {
      LeafReaderContext leaf = leaves.get(ReaderUtil.subIndex(sd.doc, leaves));
      BinaryDocValues ids = leaf.reader().getBinaryDocValues(ID);
      String id;
      if (ids != null && ids.advanceExact(sd.doc - leaf.docBase)) {
        BytesRef ref = ids.binaryValue();
        id = ref.utf8ToString();
      } else {
        id = leaf.reader().storedFields().document(sd.doc - leaf.docBase, ID_ONLY).get(ID);
      }
      sb.append(id).append('\t').append(sd.score).append('\n');
    }
    return sb.toString();
  }
}
