package dev.weft;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;

/**
 * Loads {@code libweftjni.so} (the SWIG wrapper and the JNI glue, which needs
 * {@code libweft.so.0}). In order:
 *
 * <ol>
 *   <li>the directory named by the system property {@code weft.library.path}
 *       or the environment variable {@code WEFT_JAVA_LIBRARY_PATH}: its
 *       {@code libweftjni.so} is loaded, and finds {@code libweft.so.0} next to
 *       it (its RUNPATH is {@code $ORIGIN}) or on the system library path. In a
 *       CMake build that directory is
 *       {@code <build>/bindings/java/resources/dev/weft/native/linux-x86_64};
 *   <li>the copies bundled in the jar under
 *       {@code dev/weft/native/<os>-<arch>/}: loaded in place from a class
 *       directory, otherwise extracted to a temporary directory that is
 *       deleted again once they are loaded;
 *   <li>{@code System.loadLibrary("weftjni")}, i.e. {@code java.library.path}.
 * </ol>
 */
final class NativeLoader {
  static final String JNI_LIB = "libweftjni.so";
  static final String CORE_LIB = "libweft.so.0";

  private NativeLoader() {}

  /** Called once, by the JNI class's static initializer. */
  static void load() {
    String dir = System.getProperty("weft.library.path");
    if (dir == null || dir.isEmpty()) dir = System.getenv("WEFT_JAVA_LIBRARY_PATH");
    if (dir != null && !dir.isEmpty()) {
      System.load(Path.of(dir, JNI_LIB).toAbsolutePath().toString());
    } else if (!loadBundled()) {
      System.loadLibrary("weftjni");
    }
  }

  /** The platform directory of the bundled libraries, e.g. linux-x86_64. */
  static String platform() {
    String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
    String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
    if (arch.equals("amd64") || arch.equals("x86-64")) arch = "x86_64";
    if (arch.equals("arm64")) arch = "aarch64";
    return (os.startsWith("linux") ? "linux" : os.replace(' ', '_')) + "-" + arch;
  }

  private static boolean loadBundled() {
    String base = "native/" + platform() + "/";
    URL jni = NativeLoader.class.getResource(base + JNI_LIB);
    if (jni == null) return false;
    try {
      if ("file".equals(jni.getProtocol())) {
        System.load(Path.of(jni.toURI()).toString());
        return true;
      }
      Path tmp = Files.createTempDirectory("weft-jni-");
      Path core = copy(base + CORE_LIB, tmp.resolve(CORE_LIB));
      Path glue = copy(base + JNI_LIB, tmp.resolve(JNI_LIB));
      try {
        System.load(glue.toString());
      } finally {
        Files.deleteIfExists(glue);
        Files.deleteIfExists(core);
        Files.deleteIfExists(tmp);
      }
      return true;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot extract weft's native library", e);
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  private static Path copy(String resource, Path to) throws IOException {
    try (InputStream in = NativeLoader.class.getResourceAsStream(resource)) {
      if (in == null) throw new IOException("missing resource " + resource);
      Files.copy(in, to, StandardCopyOption.REPLACE_EXISTING);
    }
    return to;
  }
}
