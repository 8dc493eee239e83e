using System.Security.Cryptography;
using System.Text;

namespace Pipeline.ZooKeeper.Protocol;

/// <summary>A znode's metadata (68 bytes on the wire).</summary>
public readonly record struct Stat(
    long Czxid,
    long Mzxid,
    long Ctime,
    long Mtime,
    int Version,
    int Cversion,
    int Aversion,
    long EphemeralOwner,
    int DataLength,
    int NumChildren,
    long Pzxid)
{
    public const int Size = 68;

    public static Stat Read(ref JuteReader reader) => new(
        reader.ReadLong(), reader.ReadLong(), reader.ReadLong(), reader.ReadLong(),
        reader.ReadInt(), reader.ReadInt(), reader.ReadInt(), reader.ReadLong(),
        reader.ReadInt(), reader.ReadInt(), reader.ReadLong());

    public void Write(ref JuteWriter writer)
    {
        writer.WriteLong(Czxid);
        writer.WriteLong(Mzxid);
        writer.WriteLong(Ctime);
        writer.WriteLong(Mtime);
        writer.WriteInt(Version);
        writer.WriteInt(Cversion);
        writer.WriteInt(Aversion);
        writer.WriteLong(EphemeralOwner);
        writer.WriteInt(DataLength);
        writer.WriteInt(NumChildren);
        writer.WriteLong(Pzxid);
    }
}

/// <summary>An identity in an ACL: a scheme (world, auth, digest, ip, ...) and an id within it.</summary>
public sealed record Id(string Scheme, string Identity)
{
    public static readonly Id Anyone = new("world", "anyone");

    /// <summary>"Whoever is authenticated on the creating session": the id is the empty string, never null.</summary>
    public static readonly Id Creator = new("auth", "");

    /// <summary>The digest identity of <paramref name="user"/>: "user:" + Base64(SHA-1("user:password")).</summary>
    public static Id Digest(string user, string password)
    {
        ArgumentException.ThrowIfNullOrEmpty(user);
        ArgumentNullException.ThrowIfNull(password);
#pragma warning disable CA5350 // SHA-1 is what ZooKeeper's digest scheme is defined with; this is an identifier, not a password store.
        var hash = SHA1.HashData(Encoding.UTF8.GetBytes($"{user}:{password}"));
#pragma warning restore CA5350
        return new Id("digest", $"{user}:{Convert.ToBase64String(hash)}");
    }

    internal static Id Read(ref JuteReader reader) =>
        new(reader.ReadRequiredString("Id.scheme"), reader.ReadRequiredString("Id.id"));

    internal void Write(ref JuteWriter writer)
    {
        writer.WriteString(Scheme);
        writer.WriteString(Identity);
    }
}

/// <summary>Permission bits of an ACL entry.</summary>
[Flags]
public enum Permissions
{
    None = 0,
    Read = 1,
    Write = 2,
    Create = 4,
    Delete = 8,
    Admin = 16,
    All = Read | Write | Create | Delete | Admin,
}

/// <summary>One ACL entry: what <see cref="Id"/> may do.</summary>
public sealed record Acl(Permissions Permissions, Id Id)
{
    /// <summary>Anyone may do anything.</summary>
    public static readonly IReadOnlyList<Acl> OpenUnsafe = [new(Permissions.All, Id.Anyone)];

    /// <summary>The creating session's authenticated identities may do anything (InvalidACL without one).</summary>
    public static readonly IReadOnlyList<Acl> CreatorAll = [new(Permissions.All, Id.Creator)];

    /// <summary>Anyone may read.</summary>
    public static readonly IReadOnlyList<Acl> ReadUnsafe = [new(Permissions.Read, Id.Anyone)];

    internal static List<Acl>? ReadVector(ref JuteReader reader)
    {
        // An ACL is at least an int and two string lengths: 12 bytes.
        var count = reader.ReadCount("ACL vector", 12);
        if (count < 0)
        {
            return null;
        }

        var list = new List<Acl>(count);
        for (var i = 0; i < count; i++)
        {
            var perms = reader.ReadInt();
            list.Add(new Acl((Permissions)perms, Id.Read(ref reader)));
        }

        return list;
    }

    internal static void WriteVector(ref JuteWriter writer, IReadOnlyList<Acl> acl)
    {
        writer.WriteInt(acl.Count);
        foreach (var entry in acl)
        {
            writer.WriteInt((int)entry.Permissions);
            entry.Id.Write(ref writer);
        }
    }
}

/// <summary>How a znode is created: persistence, sequence suffix, container.</summary>
public enum CreateMode
{
    Persistent = 0,
    Ephemeral = 1,
    PersistentSequential = 2,
    EphemeralSequential = 3,
    Container = 4,
}

public static class CreateModeExtensions
{
    public static bool IsEphemeral(this CreateMode mode) => mode is CreateMode.Ephemeral or CreateMode.EphemeralSequential;

    public static bool IsSequential(this CreateMode mode) => mode is CreateMode.PersistentSequential or CreateMode.EphemeralSequential;
}
