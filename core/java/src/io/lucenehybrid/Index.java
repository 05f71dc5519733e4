package io.lucenehybrid;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Paths;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.codecs.Codec;
import org.apache.lucene.codecs.KnnVectorsFormat;
import org.apache.lucene.codecs.KnnVectorsReader;
import org.apache.lucene.codecs.KnnVectorsWriter;
import org.apache.lucene.codecs.lucene104.Lucene104Codec;
import org.apache.lucene.codecs.lucene104.Lucene104HnswScalarQuantizedVectorsFormat;
import org.apache.lucene.codecs.lucene99.Lucene99HnswVectorsFormat;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.FieldInfo;
import org.apache.lucene.index.FieldInfos;
import org.apache.lucene.index.IndexOptions;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.SegmentReadState;
import org.apache.lucene.index.SegmentWriteState;
import org.apache.lucene.index.TieredMergePolicy;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.SearcherManager;
import org.apache.lucene.store.Directory;
import org.apache.lucene.store.FSDirectory;
import org.apache.lucene.util.quantization.QuantizedByteVectorValues.ScalarEncoding;

/**
 * One Lucene index (the BM25 or the HNSW half of a collection): a directory, an optional
 * IndexWriter, and a SearcherManager that hands out point-in-time searchers and refreshes them
 * after writes. Python holds these as opaque handles and calls static methods on them.
 */
public final class Index implements Closeable {
  public static final int MAX_DIMENSIONS = 4096;

  final Directory directory;
  final IndexWriter writer; // null when read-only
  final SearcherManager manager;
  final IndexOptions contentsOptions;

  private Index(Directory directory, IndexWriter writer, SearcherManager manager) throws IOException {
    this.directory = directory;
    this.writer = writer;
    this.manager = manager;
    this.contentsOptions = contentsOptionsOf(manager);
  }

  /** Open an existing index for search only. */
  public static Index openReadOnly(String path) throws IOException {
    Directory dir = FSDirectory.open(Paths.get(path));
    return new Index(dir, null, new SearcherManager(DirectoryReader.open(dir), null));
  }

  /** Open (or create) the BM25 half for search and writes, analyzing as Anserini does. */
  public static Index openBm25Writer(String path, Analyzer analyzer) throws IOException {
    IndexWriterConfig config = new IndexWriterConfig(analyzer);
    return openWriter(path, config);
  }

  /** Open (or create) the HNSW half for search and writes, with the collection's M / efC. */
  public static Index openHnswWriter(String path, int m, int efConstruction, String quantization)
      throws IOException {
    IndexWriterConfig config = new IndexWriterConfig();
    config.setCodec(hnswCodec(m, efConstruction, quantization));
    return openWriter(path, config);
  }

  /**
   * Lucene's codec with the HNSW vectors format a collection asked for: "none" (float32 vectors,
   * Lucene99HnswVectorsFormat), or Lucene104HnswScalarQuantizedVectorsFormat at "int8" (unsigned
   * byte), "int7", "int4" (packed nibbles) or "bbq" (one bit per dimension, queries at 4 bits).
   * The quantized formats keep the float32 vectors beside the quantized ones, for rescoring.
   */
  static Codec hnswCodec(int m, int efConstruction, String quantization) {
    KnnVectorsFormat format =
        switch (quantization) {
          case "none" -> new Lucene99HnswVectorsFormat(m, efConstruction);
          case "int8" -> quantized(ScalarEncoding.UNSIGNED_BYTE, m, efConstruction);
          case "int7" -> quantized(ScalarEncoding.SEVEN_BIT, m, efConstruction);
          case "int4" -> quantized(ScalarEncoding.PACKED_NIBBLE, m, efConstruction);
          case "bbq" -> quantized(ScalarEncoding.SINGLE_BIT_QUERY_NIBBLE, m, efConstruction);
          default -> throw new IllegalArgumentException("unknown quantization: " + quantization);
        };
    KnnVectorsFormat wide = new WideVectorsFormat(format);
    return new Lucene104Codec() {
      @Override
      public KnnVectorsFormat getKnnVectorsFormatForField(String field) {
        return wide;
      }
    };
  }

  private static KnnVectorsFormat quantized(ScalarEncoding encoding, int m, int efConstruction) {
    return new Lucene104HnswScalarQuantizedVectorsFormat(encoding, m, efConstruction);
  }

  private static Index openWriter(String path, IndexWriterConfig config) throws IOException {
    config.setOpenMode(IndexWriterConfig.OpenMode.CREATE_OR_APPEND);
    config.setRAMBufferSizeMB(64);
    TieredMergePolicy merge = new TieredMergePolicy();
    config.setMergePolicy(merge);
    Directory dir = FSDirectory.open(Paths.get(path));
    IndexWriter writer = new IndexWriter(dir, config);
    if (!DirectoryReader.indexExists(dir)) {
      writer.commit(); // an empty collection is still a valid, openable index
    }
    return new Index(dir, writer, new SearcherManager(writer, null));
  }

  private static IndexOptions contentsOptionsOf(SearcherManager manager) throws IOException {
    IndexSearcher searcher = manager.acquire();
    try {
      FieldInfo info = FieldInfos.getMergedFieldInfos(searcher.getIndexReader()).fieldInfo("contents");
      return info == null ? IndexOptions.DOCS_AND_FREQS : info.getIndexOptions();
    } finally {
      manager.release(searcher);
    }
  }

  IndexSearcher acquire() throws IOException {
    return manager.acquire();
  }

  void release(IndexSearcher searcher) throws IOException {
    manager.release(searcher);
  }

  @Override
  public void close() throws IOException {
    manager.close();
    if (writer != null) {
      writer.close();
    }
    directory.close();
  }

  /** Lucene's HNSW format, allowing vectors up to 4096 dims (as Anserini does). */
  static final class WideVectorsFormat extends KnnVectorsFormat {
    private final KnnVectorsFormat delegate;

    WideVectorsFormat(KnnVectorsFormat delegate) {
      super(delegate.getName());
      this.delegate = delegate;
    }

    @Override
    public KnnVectorsWriter fieldsWriter(SegmentWriteState state) throws IOException {
      return delegate.fieldsWriter(state);
    }

    @Override
    public KnnVectorsReader fieldsReader(SegmentReadState state) throws IOException {
      return delegate.fieldsReader(state);
    }

    @Override
    public int getMaxDimensions(String fieldName) {
      return MAX_DIMENSIONS;
    }
  }
}
