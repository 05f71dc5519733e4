package io.lucenehybrid;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.DoublePoint;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.StringField;
import org.apache.lucene.index.Term;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.MatchAllDocsQuery;
import org.apache.lucene.search.MatchNoDocsQuery;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.TermInSetQuery;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.util.BytesRef;

/**
 * Metadata as filterable Lucene fields, and JSON filters as Lucene queries.
 *
 * <p>Nested objects flatten to dotted keys; arrays are multi-valued. A string or boolean value
 * becomes an exact-match term in field {@code m.KEY}; a number becomes a DoublePoint in field
 * {@code m#KEY}. The prefixes keep user keys apart from internal fields (id, contents, raw,
 * vector).
 */
public final class Metadata {
  static final ObjectMapper JSON = new ObjectMapper();
  static final String TERM = "m.";
  static final String NUM = "m#";

  private Metadata() {}

  /** Add the fields of a metadata JSON object to a Lucene document. */
  static void addFields(Document doc, String metadataJson) throws IOException {
    if (metadataJson == null || metadataJson.isEmpty()) {
      return;
    }
    addNode(doc, "", JSON.readTree(metadataJson));
  }

  private static void addNode(Document doc, String key, JsonNode node) {
    if (node == null || node.isNull() || node.isMissingNode()) {
      return;
    }
    if (node.isObject()) {
      Iterator<Map.Entry<String, JsonNode>> it = node.fields();
      while (it.hasNext()) {
        Map.Entry<String, JsonNode> e = it.next();
        addNode(doc, key.isEmpty() ? e.getKey() : key + "." + e.getKey(), e.getValue());
      }
    } else if (node.isArray()) {
      for (JsonNode item : node) {
        addNode(doc, key, item);
      }
    } else if (node.isNumber()) {
      doc.add(new DoublePoint(NUM + key, node.asDouble()));
    } else if (node.isBoolean()) {
      doc.add(new StringField(TERM + key, node.asBoolean() ? "true" : "false", Field.Store.NO));
    } else {
      doc.add(new StringField(TERM + key, node.asText(), Field.Store.NO));
    }
  }

  /** Parse a filter JSON (validated by the Python side) into a Lucene query; null for none. */
  public static Query parseFilter(String filterJson) throws IOException {
    if (filterJson == null || filterJson.isEmpty()) {
      return null;
    }
    return toQuery(JSON.readTree(filterJson));
  }

  static Query toQuery(JsonNode f) {
    if (f.has("and") || f.has("or")) {
      boolean and = f.has("and");
      BooleanQuery.Builder b = new BooleanQuery.Builder();
      for (JsonNode child : f.get(and ? "and" : "or")) {
        b.add(toQuery(child), and ? BooleanClause.Occur.FILTER : BooleanClause.Occur.SHOULD);
      }
      if (!and) {
        b.setMinimumNumberShouldMatch(1);
      }
      return b.build();
    }
    if (f.has("not")) {
      return not(toQuery(f.get("not")));
    }
    String key = f.get("field").asText();
    String op = f.get("op").asText();
    JsonNode value = f.get("value");
    switch (op) {
      case "eq":
        return equal(key, value);
      case "ne":
        return not(equal(key, value));
      case "in":
        return anyOf(key, value);
      case "nin":
        return not(anyOf(key, value));
      case "gt":
        return DoublePoint.newRangeQuery(NUM + key, Math.nextUp(value.asDouble()), Double.POSITIVE_INFINITY);
      case "gte":
        return DoublePoint.newRangeQuery(NUM + key, value.asDouble(), Double.POSITIVE_INFINITY);
      case "lt":
        return DoublePoint.newRangeQuery(NUM + key, Double.NEGATIVE_INFINITY, Math.nextDown(value.asDouble()));
      case "lte":
        return DoublePoint.newRangeQuery(NUM + key, Double.NEGATIVE_INFINITY, value.asDouble());
      default:
        throw new IllegalArgumentException("unknown filter op " + op);
    }
  }

  private static Query not(Query q) {
    return new BooleanQuery.Builder()
        .add(new MatchAllDocsQuery(), BooleanClause.Occur.FILTER)
        .add(q, BooleanClause.Occur.MUST_NOT)
        .build();
  }

  private static Query equal(String key, JsonNode value) {
    if (value.isNumber()) {
      return DoublePoint.newExactQuery(NUM + key, value.asDouble());
    }
    if (value.isBoolean()) {
      return new TermQuery(new Term(TERM + key, value.asBoolean() ? "true" : "false"));
    }
    if (value.isNull()) {
      return new MatchNoDocsQuery();
    }
    return new TermQuery(new Term(TERM + key, value.asText()));
  }

  private static Query anyOf(String key, JsonNode values) {
    List<BytesRef> terms = new ArrayList<>();
    List<Double> numbers = new ArrayList<>();
    for (JsonNode v : values) {
      if (v.isNumber()) {
        numbers.add(v.asDouble());
      } else if (v.isBoolean()) {
        terms.add(new BytesRef(v.asBoolean() ? "true" : "false"));
      } else if (!v.isNull()) {
        terms.add(new BytesRef(v.asText()));
      }
    }
    BooleanQuery.Builder b = new BooleanQuery.Builder().setMinimumNumberShouldMatch(1);
    if (!terms.isEmpty()) {
      b.add(new TermInSetQuery(TERM + key, terms), BooleanClause.Occur.SHOULD);
    }
    if (!numbers.isEmpty()) {
      double[] arr = numbers.stream().mapToDouble(Double::doubleValue).toArray();
      b.add(DoublePoint.newSetQuery(NUM + key, arr), BooleanClause.Occur.SHOULD);
    }
    if (terms.isEmpty() && numbers.isEmpty()) {
      return new MatchNoDocsQuery();
    }
    return b.build();
  }
}
