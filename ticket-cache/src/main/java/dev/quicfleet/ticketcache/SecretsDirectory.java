package dev.quicfleet.ticketcache;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The private directory that holds one cluster's shared secrets on tmpfs, and the naming of the files in it:
 * <pre>
 *   /dev/shm/quicfleet-4433/        0700, owned by the server's user
 *     current                       0600, the current generation and its file's size when created, e.g.
 *                                   "7 69206016\n" (replaced atomically; readers refuse a smaller file)
 *     secrets-g7.map                0600, the Chronicle Map of generation 7
 *     secrets-g6.map                the previous generation, kept so a process that just read "6" can still open it
 *     owner.lock                    0600, locked by the one process that creates generations (the supervisor)
 * </pre>
 * A directory of its own, not a file straight in {@code /dev/shm}: that directory is writable by everyone, so a file
 * name there could be taken first (or be a symbolic link) by another user; a 0700 directory owned by us cannot.
 */
final class SecretsDirectory {

    static final Set<PosixFilePermission> FILE_MODE = PosixFilePermissions.fromString("rw-------");
    static final Set<PosixFilePermission> DIRECTORY_MODE = PosixFilePermissions.fromString("rwx------");

    private static final String POINTER = "current";
    private static final Pattern GENERATION_FILE = Pattern.compile("secrets-g(\\d{1,18})\\.map");

    private final Path directory;

    SecretsDirectory(Path directory) {
        this.directory = directory.toAbsolutePath().normalize();
    }

    Path path() {
        return directory;
    }

    /** What went wrong, in words, whichever way the JDK reported it. */
    private static String reason(java.nio.file.FileSystemException e) {
        if (e.getReason() != null) {
            return e.getReason();
        }
        return switch (e) {
            case java.nio.file.NoSuchFileException ignored -> "no such file or directory";
            case java.nio.file.NotDirectoryException ignored -> "not a directory";
            case java.nio.file.AccessDeniedException ignored -> "permission denied";
            case FileAlreadyExistsException ignored -> "exists and is not a directory";
            default -> e.getClass().getSimpleName();
        };
    }

    Path file(long generation) {
        return directory.resolve("secrets-g" + generation + ".map");
    }

    /**
     * Creates the directory 0700 if missing; refuses one that is not a directory or is owned by another user, and
     * narrows the mode of our own directory to 0700 if it is wider.
     */
    void ensure() throws IOException {
        PosixFileAttributes attributes;
        try {
            try {
                Files.createDirectories(directory.getParent());
                Files.createDirectory(directory, PosixFilePermissions.asFileAttribute(DIRECTORY_MODE));
            } catch (FileAlreadyExistsException e) {
                // Checked below, whoever made it (a parent that is a file fails the check too).
            }
            attributes = Files.readAttributes(directory, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (java.nio.file.FileSystemException e) {
            Path blocker = directory.getParent();
            while (blocker != null && !Files.exists(blocker, LinkOption.NOFOLLOW_LINKS)) {
                blocker = blocker.getParent();
            }
            String what = blocker != null && !Files.isDirectory(blocker) ? blocker + " is not a directory"
                    : e.getFile() + ": " + reason(e);
            throw new IOException("cannot create the shared secrets directory " + directory + " (" + what + "; expected: a path this user can create, on tmpfs such as /dev/shm; set "
                    + "--shm-path)", e);
        }
        if (!attributes.isDirectory()) {
            throw new IOException("shared secrets directory " + directory + " is not a directory (expected: a "
                    + "directory only this user can enter; remove it or choose another --shm-path)");
        }
        // /proc/self belongs to this process's user; comparing uids also works where the user has no name.
        Object ourUid = Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        Object dirUid = Files.getAttribute(directory, "unix:uid", LinkOption.NOFOLLOW_LINKS);
        if (!ourUid.equals(dirUid)) {
            throw new IOException("shared secrets directory " + directory + " is owned by " + attributes.owner()
                    .getName() + " (expected: this user, uid " + ourUid + "; remove it or choose another --shm-path)");
        }
        if (!attributes.permissions().equals(DIRECTORY_MODE)) {
            Files.setPosixFilePermissions(directory, DIRECTORY_MODE);
        }
    }

    /**
     * Takes the owner lock: one creator per directory, so two supervisors on one port cannot replace each other's
     * generations. The kernel drops the lock when the process dies, even by SIGKILL.
     */
    FileLock lockOwner() throws IOException {
        FileChannel channel = FileChannel.open(lockFile(), Set.of(StandardOpenOption.CREATE,
                StandardOpenOption.WRITE), privateFile());
        try {
            FileLock lock = channel.tryLock();
            if (lock != null) {
                return lock;
            }
        } catch (OverlappingFileLockException e) {
            // Held by this JVM: the same verdict.
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
        channel.close();
        throw new IOException("shared secrets directory " + directory + " is in use by another supervisor "
                + "(expected: one supervisor per port and --shm-path)");
    }

    /**
     * What {@code current} says: the generation and the size its file was created with (0 if not recorded).
     */
    record Pointer(long generation, long size) {
    }

    /** The owner's lock file. */
    Path lockFile() {
        return directory.resolve("owner.lock");
    }

    /** The current generation, or empty if there is none yet (or the pointer is unreadable). */
    OptionalLong readPointer() throws IOException {
        return pointer().map(p -> OptionalLong.of(p.generation())).orElse(OptionalLong.empty());
    }

    /** The whole pointer, or empty if there is none yet (or it is unreadable). */
    Optional<Pointer> pointer() throws IOException {
        String text;
        try {
            text = Files.readString(directory.resolve(POINTER), StandardCharsets.US_ASCII).strip();
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
        String[] fields = text.split("\\s+");
        try {
            long generation = Long.parseLong(fields[0]);
            long size = fields.length > 1 ? Long.parseLong(fields[1]) : 0;
            return generation > 0 && size >= 0 ? Optional.of(new Pointer(generation, size)) : Optional.empty();
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** The pointer file's path. */
    Path pointerFile() {
        return directory.resolve(POINTER);
    }

    /**
     * Points readers at {@code generation}, whose file was created with {@code size} bytes: write a new pointer file,
     * then rename it over the old one.
     */
    void writePointer(long generation, long size) throws IOException {
        Path next = directory.resolve(POINTER + ".next");
        Files.deleteIfExists(next);
        Files.writeString(next, generation + " " + size + "\n", StandardCharsets.US_ASCII, StandardOpenOption.CREATE_NEW,
                StandardOpenOption.WRITE);
        Files.setPosixFilePermissions(next, FILE_MODE);
        try {
            Files.move(next, directory.resolve(POINTER), StandardCopyOption.ATOMIC_MOVE,
                    StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("shared secrets directory " + directory + " does not support atomic rename", e);
        }
    }

    /** The highest generation that has a file, or 0. */
    long highestGeneration() throws IOException {
        long highest = 0;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(directory, "secrets-g*.map")) {
            for (Path file : files) {
                Matcher matcher = GENERATION_FILE.matcher(file.getFileName().toString());
                if (matcher.matches()) {
                    highest = Math.max(highest, Long.parseLong(matcher.group(1)));
                }
            }
        }
        return highest;
    }

    /** Deletes the files of generations older than {@code oldestKept}. */
    void deleteOlderThan(long oldestKept) throws IOException {
        try (DirectoryStream<Path> files = Files.newDirectoryStream(directory, "secrets-g*.map")) {
            for (Path file : files) {
                Matcher matcher = GENERATION_FILE.matcher(file.getFileName().toString());
                if (matcher.matches() && Long.parseLong(matcher.group(1)) < oldestKept) {
                    Files.deleteIfExists(file);
                }
            }
        }
    }

    /** 0600 at creation: the process umask can only narrow it. */
    static FileAttribute<Set<PosixFilePermission>> privateFile() {
        return PosixFilePermissions.asFileAttribute(FILE_MODE);
    }

    @Override
    public String toString() {
        return directory.toString();
    }
}
