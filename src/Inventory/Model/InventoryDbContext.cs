using Microsoft.EntityFrameworkCore;

namespace Pipeline.Inventory.Model;

/// <summary>
/// The inventory schema: EF Core owns the model and the migrations; the hot paths (FencedCommitter, intake) use Npgsql
/// directly against the same tables. Names are snake_case, as operators read them in psql.
/// </summary>
public sealed class InventoryDbContext(DbContextOptions<InventoryDbContext> options) : DbContext(options)
{
    public DbSet<StockItem> Stock => Set<StockItem>();

    public DbSet<OrderRecord> Orders => Set<OrderRecord>();

    public DbSet<InventoryCommit> InventoryCommits => Set<InventoryCommit>();

    public DbSet<LeaderFence> LeaderFences => Set<LeaderFence>();

    public DbSet<FenceRejection> FenceRejections => Set<FenceRejection>();

    public DbSet<FenceReset> FenceResets => Set<FenceReset>();

    public DbSet<LeaderSuccession> LeaderSuccessions => Set<LeaderSuccession>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);
        modelBuilder.Entity<StockItem>(e =>
        {
            e.ToTable("stock", t => t.HasCheckConstraint("ck_stock_on_hand_non_negative", "on_hand >= 0"));
            e.HasKey(x => x.Sku);
            e.Property(x => x.Sku).HasColumnName("sku");
            e.Property(x => x.OnHand).HasColumnName("on_hand");
            e.Property(x => x.Initial).HasColumnName("initial");
            e.Property(x => x.UpdatedAt).HasColumnName("updated_at").HasDefaultValueSql("now()");
        });

        modelBuilder.Entity<OrderRecord>(e =>
        {
            e.ToTable("orders");
            e.HasKey(x => x.OrderId);
            e.Property(x => x.OrderId).HasColumnName("order_id");
            e.Property(x => x.CustomerId).HasColumnName("customer_id");
            e.Property(x => x.Lines).HasColumnName("lines").HasColumnType("jsonb");
            e.Property(x => x.ContentHash).HasColumnName("content_hash");
            e.Property(x => x.Status).HasColumnName("status");
            e.Property(x => x.Reason).HasColumnName("reason");
            e.Property(x => x.Detail).HasColumnName("detail");
            e.Property(x => x.ReceivedAt).HasColumnName("received_at").HasDefaultValueSql("now()");
            e.Property(x => x.ReceivedBy).HasColumnName("received_by");
            e.Property(x => x.DecidedAt).HasColumnName("decided_at");
            e.HasIndex(x => x.Status).HasDatabaseName("ix_orders_status");

            // The leader's re-drive reads the oldest undecided orders; decided ones (nearly all) stay out of this index.
            e.HasIndex(x => x.ReceivedAt).HasDatabaseName("ix_orders_undecided_received_at").HasFilter("status = 'Received'");
        });

        modelBuilder.Entity<InventoryCommit>(e =>
        {
            e.ToTable("inventory_commits");
            e.HasKey(x => x.CommitSeq);
            e.Property(x => x.CommitSeq).HasColumnName("commit_seq").UseIdentityByDefaultColumn();
            e.Property(x => x.OrderId).HasColumnName("order_id");
            e.HasIndex(x => x.OrderId).IsUnique().HasDatabaseName("ux_inventory_commits_order_id");
            e.Property(x => x.Generation).HasColumnName("generation");
            e.Property(x => x.Sequence).HasColumnName("sequence");
            e.Property(x => x.NodeId).HasColumnName("node_id");
            e.Property(x => x.Outcome).HasColumnName("outcome");
            e.Property(x => x.Reason).HasColumnName("reason");
            e.Property(x => x.Detail).HasColumnName("detail");
            e.Property(x => x.CommittedAt).HasColumnName("committed_at").HasDefaultValueSql("now()");
        });

        modelBuilder.Entity<LeaderFence>(e =>
        {
            e.ToTable("leader_fence");
            e.HasKey(x => x.Resource);
            e.Property(x => x.Resource).HasColumnName("resource");
            e.Property(x => x.Generation).HasColumnName("generation");
            e.Property(x => x.Sequence).HasColumnName("sequence");
            e.Property(x => x.Holder).HasColumnName("holder");
            e.Property(x => x.UpdatedAt).HasColumnName("updated_at").HasDefaultValueSql("now()");
            e.HasData(new LeaderFence { Resource = FenceResources.InventoryCommit, Generation = 0, Sequence = 0, Holder = "", UpdatedAt = DateTimeOffset.UnixEpoch });
        });

        modelBuilder.Entity<FenceRejection>(e =>
        {
            e.ToTable("fence_rejections");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).HasColumnName("id").UseIdentityByDefaultColumn();
            e.Property(x => x.At).HasColumnName("at").HasDefaultValueSql("now()");
            e.Property(x => x.Resource).HasColumnName("resource");
            e.Property(x => x.NodeId).HasColumnName("node_id");
            e.Property(x => x.Generation).HasColumnName("generation");
            e.Property(x => x.Sequence).HasColumnName("sequence");
            e.Property(x => x.CurrentGeneration).HasColumnName("current_generation");
            e.Property(x => x.CurrentSequence).HasColumnName("current_sequence");
        });

        modelBuilder.Entity<LeaderSuccession>(e =>
        {
            e.ToTable("leader_successions");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).HasColumnName("id").UseIdentityByDefaultColumn();
            e.Property(x => x.At).HasColumnName("at").HasDefaultValueSql("now()");
            e.Property(x => x.Resource).HasColumnName("resource");
            e.Property(x => x.NodeId).HasColumnName("node_id");
            e.Property(x => x.Generation).HasColumnName("generation");
            e.Property(x => x.Sequence).HasColumnName("sequence");
            e.Property(x => x.Cause).HasColumnName("cause");
            e.Property(x => x.Previous).HasColumnName("previous");
        });

        modelBuilder.Entity<FenceReset>(e =>
        {
            e.ToTable("fence_resets");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).HasColumnName("id").UseIdentityByDefaultColumn();
            e.Property(x => x.At).HasColumnName("at").HasDefaultValueSql("now()");
            e.Property(x => x.Resource).HasColumnName("resource");
            e.Property(x => x.Operator).HasColumnName("operator");
            e.Property(x => x.FromGeneration).HasColumnName("from_generation");
            e.Property(x => x.FromSequence).HasColumnName("from_sequence");
            e.Property(x => x.ToGeneration).HasColumnName("to_generation");
            e.Property(x => x.ToSequence).HasColumnName("to_sequence");
            e.Property(x => x.Reason).HasColumnName("reason");
        });
    }
}

/// <summary>Fenced resources: one row of leader_fence each.</summary>
public static class FenceResources
{
    public const string InventoryCommit = "inventory-commit";
}
