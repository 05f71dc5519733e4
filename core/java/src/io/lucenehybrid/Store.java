package io.lucenehybrid;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import org.apache.lucene.codecs.CompoundDirectory;
import org.apache.lucene.document.BinaryDocValuesField;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.FieldType;
import org.apache.lucene.document.KnnFloatVectorField;
import org.apache.lucene.document.StoredField;
import org.apache.lucene.document.StringField;
import org.apache.lucene.index.CheckIndex;
import org.apache.lucene.index.FloatVectorValues;
import org.apache.lucene.index.LeafReader;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.SegmentCommitInfo;
import org.apache.lucene.index.SegmentInfo;
import org.apache.lucene.index.SegmentInfos;
import org.apache.lucene.index.StoredFields;
import org.apache.lucene.index.Term;
import org.apache.lucene.index.VectorSimilarityFunction;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.store.Directory;
import org.apache.lucene.store.FSDirectory;
import org.apache.lucene.util.Bits;
import org.apache.lucene.util.BytesRef;

/**
 * The write path of a collection: upserts and deletes applied to both halves through Lucene's
 * IndexWriter, with the field layout Anserini's indexers write (id as a string field plus binary
 * doc values, analyzed contents, stored raw JSON; HNSW vectors by dot product), plus filterable
 * metadata fields. All entry points are static (see {@link Search} for why).
 */
public final class Store {
  private Store() {}

  /**
   * Replace or add documents by id in both indexes. Vectors are n*dim little-endian float32.
   * Nothing is visible until {@link #refresh} and nothing is durable until {@link #commit}.
   */
  public static void upsert(
      Index bm25,
      Index hnsw,
      String[] ids,
      String[] contents,
      String[] raws,
      String[] metadata,
      byte[] vectors,
      int dim)
      throws IOException {
    ByteBuffer buf = ByteBuffer.wrap(vectors).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < ids.length; i++) {
      float[] vector = new float[dim];
      buf.asFloatBuffer().get(i * dim, vector);
      Term id = new Term(Search.ID, ids[i]);
      bm25.writer.updateDocument(id, bm25Doc(bm25, ids[i], contents[i], raws[i], metadata[i]));
      hnsw.writer.updateDocument(id, hnswDoc(ids[i], vector, metadata[i]));
    }
  }

  /** Delete documents by id from both indexes. */
  public static void delete(Index bm25, Index hnsw, String[] ids) throws IOException {
    Term[] terms = new Term[ids.length];
    for (int i = 0; i < ids.length; i++) {
      terms[i] = new Term(Search.ID, ids[i]);
    }
    bm25.writer.deleteDocuments(terms);
    hnsw.writer.deleteDocuments(terms);
  }

  /** Delete every document matching a metadata filter (JSON; null matches all) from both. */
  public static void deleteByFilter(Index bm25, Index hnsw, String filterJson) throws IOException {
    org.apache.lucene.search.Query filter = Metadata.parseFilter(filterJson);
    if (filter == null) {
      filter = new org.apache.lucene.search.MatchAllDocsQuery();
    }
    bm25.writer.deleteDocuments(filter);
    hnsw.writer.deleteDocuments(filter);
  }

  /** Make applied writes visible to new searches (near-real-time reopen). */
  public static void refresh(Index index) throws IOException {
    index.manager.maybeRefreshBlocking();
  }

  /**
   * Throw away every change since the last commit and close the index (writer, searchers,
   * directory): the caller reopens it and replays its write-ahead log. Safe on a writer that a
   * tragic error (e.g. OutOfMemoryError) already closed.
   */
  public static void rollback(Index index) throws IOException {
    try {
      index.manager.close();
    } finally {
      try {
        index.writer.rollback();
      } finally {
        index.directory.close();
      }
    }
  }

  /** Make applied writes durable (fsync). */
  public static void commit(Index index) throws IOException {
    index.writer.commit();
  }

  static Document bm25Doc(Index bm25, String id, String contents, String raw, String metadata)
      throws IOException {
    Document doc = new Document();
    doc.add(new StringField(Search.ID, id, Field.Store.YES));
    doc.add(new BinaryDocValuesField(Search.ID, new BytesRef(id)));
    FieldType type = new FieldType();
    type.setIndexOptions(bm25.contentsOptions);
    type.setTokenized(true);
    type.setStored(false);
    type.freeze();
    doc.add(new Field("contents", contents, type));
    doc.add(new StoredField(Search.RAW, raw));
    Metadata.addFields(doc, metadata);
    return doc;
  }

  static Document hnswDoc(String id, float[] vector, String metadata) throws IOException {
    Document doc = new Document();
    doc.add(new StringField(Search.ID, id, Field.Store.YES));
    doc.add(new BinaryDocValuesField(Search.ID, new BytesRef(id)));
    doc.add(new KnnFloatVectorField("vector", vector, VectorSimilarityFunction.DOT_PRODUCT));
    Metadata.addFields(doc, metadata);
    return doc;
  }

  /**
   * After an Anserini batch build, rewrite the documents that carry metadata so their metadata
   * is filterable in both halves (Anserini's indexers store it only inside the raw JSON).
   * Returns the number of documents rewritten; the caller commits.
   */
  public static int backfillMetadata(Index bm25, Index hnsw) throws IOException {
    List<String[]> todo = new ArrayList<>(); // {id, contents, raw, metadata}
    IndexSearcher searcher = bm25.acquire();
    try {
      for (LeafReaderContext leaf : searcher.getIndexReader().leaves()) {
        LeafReader reader = leaf.reader();
        Bits live = reader.getLiveDocs();
        StoredFields stored = reader.storedFields();
        for (int d = 0; d < reader.maxDoc(); d++) {
          if (live != null && !live.get(d)) {
            continue;
          }
          String raw = stored.document(d).get(Search.RAW);
          JsonNode node = raw == null ? null : Metadata.JSON.readTree(raw);
          JsonNode meta = node == null ? null : node.get("metadata");
          if (meta != null && meta.isObject() && meta.size() > 0) {
            String id = node.get("id").asText();
            String contents = node.has("contents") ? node.get("contents").asText() : "";
            String compact = Metadata.JSON.writeValueAsString(node);
            todo.add(new String[] {id, contents, compact, Metadata.JSON.writeValueAsString(meta)});
          }
        }
      }
    } finally {
      bm25.release(searcher);
    }
    for (String[] doc : todo) {
      float[] vector = vectorOf(hnsw, doc[0]);
      Term id = new Term(Search.ID, doc[0]);
      bm25.writer.updateDocument(id, bm25Doc(bm25, doc[0], doc[1], doc[2], doc[3]));
      if (vector != null) {
        hnsw.writer.updateDocument(id, hnswDoc(doc[0], vector, doc[3]));
      }
    }
    if (!todo.isEmpty()) {
      // Deleted originals would otherwise linger in BM25's statistics until a merge.
      bm25.writer.forceMergeDeletes();
      hnsw.writer.forceMergeDeletes();
    }
    return todo.size();
  }

  /** The stored vector of a document, or null when the id is absent. */
  static float[] vectorOf(Index hnsw, String id) throws IOException {
    IndexSearcher searcher = hnsw.acquire();
    try {
      var top = searcher.search(new org.apache.lucene.search.TermQuery(new Term(Search.ID, id)), 1);
      if (top.scoreDocs.length == 0) {
        return null;
      }
      int doc = top.scoreDocs[0].doc;
      var leaves = searcher.getIndexReader().leaves();
      LeafReaderContext leaf = leaves.get(org.apache.lucene.index.ReaderUtil.subIndex(doc, leaves));
      FloatVectorValues values = leaf.reader().getFloatVectorValues("vector");
      if (values == null) {
        return null;
      }
      var it = values.iterator();
      if (it.advance(doc - leaf.docBase) != doc - leaf.docBase) {
        return null;
      }
      return values.vectorValue(it.index()).clone();
    } finally {
      hnsw.release(searcher);
    }
  }

  /**
   * The size of every file of the latest commit's segments, looking inside compound files: one
   * "name bytes" line each. A compound segment's parts are named as they would be on their own.
   */
  public static String fileSizes(String path) throws IOException {
    StringBuilder out = new StringBuilder();
    try (Directory dir = FSDirectory.open(Paths.get(path))) {
      for (SegmentCommitInfo commit : SegmentInfos.readLatestCommit(dir)) {
        SegmentInfo info = commit.info;
        if (info.getUseCompoundFile()) {
          try (CompoundDirectory cfs = info.getCodec().compoundFormat().getCompoundReader(dir, info)) {
            for (String name : cfs.listAll()) {
              out.append(name).append(' ').append(cfs.fileLength(name)).append('\n');
            }
          }
        }
        for (String name : commit.files()) {
          out.append(name).append(' ').append(dir.fileLength(name)).append('\n');
        }
      }
    }
    return out.toString();
  }

  /** Lucene's CheckIndex over a directory: "clean" or the report of what is broken. */
  public static String checkIndex(String path) throws IOException {
    try (Directory dir = FSDirectory.open(Paths.get(path));
        CheckIndex checker = new CheckIndex(dir)) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      checker.setInfoStream(new PrintStream(out, true, StandardCharsets.UTF_8));
      CheckIndex.Status status = checker.checkIndex();
      return status.clean ? "clean" : out.toString(StandardCharsets.UTF_8);
    }
  }
}
