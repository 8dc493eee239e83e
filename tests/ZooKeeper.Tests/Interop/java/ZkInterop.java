// Drives the official Java ZooKeeper client for the interop tests (JavaZooKeeperClient.cs starts it).
// Usage: java -cp <zookeeper classpath>:<dir> ZkInterop <connectString> <sessionTimeoutMs>
// Protocol: one command per stdin line, tokens separated by one space; one reply per command on stdout, prefixed
// with "@@ " so that nothing else a library might print there is taken for a reply:
//   "@@ ready <sessionId>" once connected, then per command "@@ ok [values]", "@@ err <code> <NAME>" for a
//   KeeperException, "@@ fail <message>" for anything else. Data is base64, "-" for empty, "~" for null.
//   A Stat is its 11 fields in wire order: czxid mzxid ctime mtime version cversion aversion ephemeralOwner
//   dataLength numChildren pzxid.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Stat;

public final class ZkInterop {
    private ZkInterop() {
    }

    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        String connectString = args[0];
        int sessionTimeoutMs = Integer.parseInt(args[1]);
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(connectString, sessionTimeoutMs, event -> {
            if (event.getState() == Watcher.Event.KeeperState.SyncConnected) {
                connected.countDown();
            }
        });
        int connectTimeoutMs = Math.max(sessionTimeoutMs, 10000);
        if (!connected.await(connectTimeoutMs, TimeUnit.MILLISECONDS)) {
            out.println("@@ fail not connected to " + connectString + " within " + connectTimeoutMs + " ms");
            out.flush();
            zk.close();
            System.exit(2);
        }

        out.println("@@ ready " + zk.getSessionId());
        out.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null && !line.equals("quit")) {
            String reply;
            try {
                reply = "ok" + run(zk, line, line.split(" ", -1));
            } catch (KeeperException e) {
                reply = "err " + e.code().intValue() + " " + e.code().name();
            } catch (Exception e) {
                reply = "fail " + e.toString().replace('\n', ' ').replace('\r', ' ');
            }
            out.println("@@ " + reply);
            out.flush();
        }

        zk.close();
        out.println("@@ closed");
        out.flush();
    }

    private static String run(ZooKeeper zk, String line, String[] a) throws Exception {
        switch (a[0]) {
            case "session":
                return " " + zk.getSessionId();
            case "auth":
                // The rest of the line is "user:password"; the password may hold spaces and colons.
                zk.addAuthInfo("digest", line.substring("auth ".length()).getBytes(StandardCharsets.UTF_8));
                return "";
            case "create":
                return " " + zk.create(a[1], decode(a[2]), acl(a[4]), CreateMode.valueOf(a[3]));
            case "get": {
                Stat stat = new Stat();
                byte[] data = zk.getData(a[1], false, stat);
                return " " + encode(data) + stat(stat);
            }
            case "exists": {
                Stat stat = zk.exists(a[1], false);
                return stat == null ? " none" : stat(stat);
            }
            case "set":
                return stat(zk.setData(a[1], decode(a[2]), -1));
            case "delete":
                zk.delete(a[1], -1);
                return "";
            case "children": {
                List<String> children = new ArrayList<>(zk.getChildren(a[1], false));
                Collections.sort(children);
                return children.isEmpty() ? "" : " " + String.join(" ", children);
            }
            case "getacl": {
                StringBuilder reply = new StringBuilder();
                for (ACL entry : zk.getACL(a[1], new Stat())) {
                    reply.append(' ').append(entry.getPerms()).append(' ').append(entry.getId().getScheme())
                        .append(' ').append(entry.getId().getId());
                }
                return reply.toString();
            }
            case "waitdeleted":
                return waitDeleted(zk, a[1], Long.parseLong(a[2]));
            default:
                throw new IllegalArgumentException("unknown command " + a[0]);
        }
    }

    // Awaits the node's deletion with an exists watch (no polling): " gone" or " timeout".
    private static String waitDeleted(ZooKeeper zk, String path, long timeoutMs) throws Exception {
        CountDownLatch deleted = new CountDownLatch(1);
        Watcher watcher = event -> {
            if (event.getType() == Watcher.Event.EventType.NodeDeleted) {
                deleted.countDown();
            }
        };
        if (zk.exists(path, watcher) == null) {
            return " gone";
        }

        return deleted.await(timeoutMs, TimeUnit.MILLISECONDS) ? " gone" : " timeout";
    }

    private static List<ACL> acl(String name) {
        switch (name) {
            case "open":
                return ZooDefs.Ids.OPEN_ACL_UNSAFE;
            case "creator":
                return ZooDefs.Ids.CREATOR_ALL_ACL;
            case "read":
                return ZooDefs.Ids.READ_ACL_UNSAFE;
            default:
                throw new IllegalArgumentException("unknown ACL " + name);
        }
    }

    private static byte[] decode(String token) {
        return token.equals("~") ? null : token.equals("-") ? new byte[0] : Base64.getDecoder().decode(token);
    }

    private static String encode(byte[] data) {
        return data == null ? "~" : data.length == 0 ? "-" : Base64.getEncoder().encodeToString(data);
    }

    private static String stat(Stat s) {
        return " " + s.getCzxid() + " " + s.getMzxid() + " " + s.getCtime() + " " + s.getMtime() + " " + s.getVersion()
            + " " + s.getCversion() + " " + s.getAversion() + " " + s.getEphemeralOwner() + " " + s.getDataLength()
            + " " + s.getNumChildren() + " " + s.getPzxid();
    }
}
