//! What can go wrong while rendering the values document.

/// An export that could not be made. Every message is plain English and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The PDF typesetter refused the document (a bug in our template, never the user's text:
    /// all text reaches typst as string literals).
    #[error("Couldn't lay out the PDF ({0}). Please try another format and report this.")]
    Pdf(String),
    /// This build leaves the PDF typesetter out (the desktop app: it asks the `commonground`
    /// program instead).
    #[error("This program can't make PDFs itself. Please choose another format.")]
    PdfNotBuiltIn,
    /// The Word document could not be packed.
    #[error("Couldn't write the Word document ({0}). Please try another format and report this.")]
    Docx(String),
    /// The document could not be turned into JSON.
    #[error("Couldn't write the JSON ({0}).")]
    Json(#[from] serde_json::Error),
}

impl ExportError {
    /// A short, stable, machine-readable kind, for `{ kind, message }` errors.
    pub fn kind(&self) -> &'static str {
        match self {
            ExportError::Pdf(_) => "export_pdf",
            ExportError::PdfNotBuiltIn => "export_pdf_missing",
            ExportError::Docx(_) => "export_docx",
            ExportError::Json(_) => "export_json",
        }
    }
}

/// The result of an export.
pub type Result<T> = std::result::Result<T, ExportError>;
